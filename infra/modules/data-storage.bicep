// The data account: where upstream files arrive and the pipeline writes its outputs. By default it
// is the app's own storage account; it can be an existing account (even in another resource group),
// in which case this module is deployed to that account's resource group.
// Creates the upstream and output containers, the Event Grid system topic the output guard's blob
// trigger subscribes to (the subscription itself is made by the postdeploy hook), and the data roles
// of the app and of the factory, each scoped to one container where it can be.

param accountName string
@description('True when the data account is the app storage account (the app already has its host-storage roles there).')
param isAppStorage bool
param upstreamContainerName string
param outputContainerName string
param systemTopicName string
param appPrincipalId string
param factoryPrincipalId string
param tags object = {}

var storageBlobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource upstreamContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: upstreamContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource outputContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: outputContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Blob events of the data account. The postdeploy hook subscribes the output guard to it,
// filtered to the output locations of the pipelines config.
resource systemTopic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: systemTopicName
  location: account.location
  tags: tags
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Why: the upstream watcher lists and reads new upstream blobs; it never writes there.
resource appReadsUpstream 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(upstreamContainer.id, appPrincipalId, storageBlobDataReader)
  scope: upstreamContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataReader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Why: the output guard's blob trigger streams each new output blob to validate it, and writes
// the validation report beside the outputs (the dataset's output.reports_prefix); this container only.
resource appChecksOutputs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outputContainer.id, appPrincipalId, storageBlobDataContributor)
  scope: outputContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Why: a blob trigger with an Event Grid source keeps its bookkeeping queues in the trigger
// connection's account (DATA_STORAGE__queueServiceUri). Only needed on a separate data account:
// on the app account the app already holds this role (rbac.bicep).
resource appDataQueues 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!isAppStorage) {
  name: guid(account.id, appPrincipalId, storageQueueDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Why: the example pipeline reads the batch's upstream files; read only, this container only.
resource factoryReadsUpstream 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(upstreamContainer.id, factoryPrincipalId, storageBlobDataReader)
  scope: upstreamContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataReader)
    principalId: factoryPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Why: the example pipeline writes its outputs; write access to the output container only.
resource factoryWritesOutputs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outputContainer.id, factoryPrincipalId, storageBlobDataContributor)
  scope: outputContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: factoryPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output accountId string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output systemTopicName string = systemTopic.name
output systemTopicResourceGroup string = resourceGroup().name
