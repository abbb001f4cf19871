// The app's own storage account: the Functions host (AzureWebJobsStorage), the Flex Consumption
// deployment package, the alert queues and the state tables. Shared-key access is off: everything
// reaches it with Entra ID (the app's managed identity, see rbac.bicep).

param name string
param location string
param tags object = {}
@description('Blob containers to create (the deployment package container, and the data containers when this account also holds the data).')
param containerNames array
@description('Storage queues the app uses.')
param queueNames array
@description('Table Storage tables holding the app state.')
param tableNames array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: no VNet in this template: the Flex app, Event Grid and the factory's Azure IR reach the account over its public endpoint; access is Entra ID only (shared key off, no public blobs).
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35; public network access is needed without VNet integration, anonymous and key access are both off.
  // checkov:skip=CKV_AZURE_206: the account is zone-redundant (ZRS); checkov accepts only geo-replication, which this state does not need (a regional outage stops the app too).
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_ZRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for containerName in containerNames: {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in queueNames: {
  parent: queueService
  name: queueName
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
