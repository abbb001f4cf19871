// ADF Autopilot: everything one `azd up` needs. Subscription scope: it creates the resource group,
// then deploys the modules into it (and into the data account's and the factory's resource groups
// when existing ones are referenced). See infra/README.md for the parameters and the picture.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; makes every resource name unique per environment.')
param environmentName string

@minLength(1)
@description('Region of every resource (Flex Consumption must be offered there).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create. Empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the deployer (azd sets AZURE_PRINCIPAL_ID); gets write on Key Vault secrets so the postdeploy hook can store the webhook key.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Python version of the Flex Consumption runtime.')
param pythonVersion string = '3.13'

@description('Memory of one Flex Consumption instance (MB). The output guard streams files, 2048 is plenty.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('NCRONTAB schedule of the upstream watcher, in UTC: six fields (second first) or five (minute first); checked by autopilot check-config.')
param upstreamSchedule string = '0 0 * * * *'

@description('Path of the pipelines config inside the deployed app.')
param pipelinesConfig string = 'pipelines.yaml'

@description('Container upstream files arrive in.')
param upstreamContainerName string = 'upstream'

@description('Container the pipeline writes outputs to; the output guard\'s blob trigger watches it.')
param outputContainerName string = 'outputs'

@description('Folder of the example pipeline\'s outputs inside the output container.')
param outputPrefix string = 'scores'

@description('Existing storage account holding upstream and output data. Empty: the app\'s storage account holds them.')
param dataStorageAccountName string = ''

@description('Resource group of dataStorageAccountName. Empty: the app\'s resource group.')
param dataStorageResourceGroupName string = ''

@description('Existing Data Factory to drive. Empty: a new factory is created.')
param existingFactoryName string = ''

@description('Resource group of existingFactoryName. Empty: the app\'s resource group.')
param existingFactoryResourceGroupName string = ''

@description('Deploy the example pipeline (score_batch), its linked service and datasets into the factory.')
param deployExamplePipeline bool = true

@description('Create Azure Communication Services Email (Azure-managed domain) for the email channel.')
param enableEmail bool = false

@description('Data location of Communication Services.')
param emailDataLocation string = 'United States'

@secure()
@description('Teams Workflows webhook URL, stored in Key Vault. Empty: set the secret later (infra/README.md).')
param teamsWebhookUrl string = ''

@description('Email address for heartbeat alerts. Empty: no action group.')
param alertEmail string = ''

@description('Silence after which the upstream watcher counts as dead (ISO 8601 duration).')
param watcherHeartbeatWindow string = 'PT2H'

@description('Silence after which the alert dispatcher counts as dead (ISO 8601 duration).')
param dispatcherHeartbeatWindow string = 'PT2H'

@description('Power BI workspace (group) id holding the datasets to refresh. Empty: each dataset names its workspace in the pipelines config.')
param powerBiWorkspaceId string = ''

@description('Audience (app id URI) of an Entra ID app registration for the pipeline webhook. Empty: function key only.')
param webhookAuthAudience string = ''

@description('Key Vault purge protection. Turn off only for throwaway environments.')
param keyVaultPurgeProtection bool = true

@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'adf-autopilot'
}
var rgName = !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
var functionAppName = 'func-autopilot-${resourceToken}'
var storageAccountName = 'stautopilot${take(resourceToken, 12)}'
var deploymentContainerName = 'app-package-${take(resourceToken, 12)}'
var keyVaultName = 'kv-autopilot-${take(resourceToken, 10)}'
var teamsWebhookSecretName = 'teams-webhook-url'
var webhookKeySecretName = 'pipeline-events-function-key'
var newFactoryName = 'adf-autopilot-${resourceToken}'
var createFactory = empty(existingFactoryName)
var factoryName = createFactory ? newFactoryName : existingFactoryName
var factoryResourceGroupName = (createFactory || empty(existingFactoryResourceGroupName)) ? rgName : existingFactoryResourceGroupName
var dataIsAppStorage = empty(dataStorageAccountName)
var dataAccountName = dataIsAppStorage ? storageAccountName : dataStorageAccountName
var dataResourceGroupName = (dataIsAppStorage || empty(dataStorageResourceGroupName)) ? rgName : dataStorageResourceGroupName

// What the functions need in the app storage account (checked against the code by tests/infra):
// the alert queue and its poison queue, and the blob trigger's poison queue (the host writes it in
// AzureWebJobsStorage; output_guard_poison reads it).
var appQueues = [
  'alerts'
  'alerts-poison'
  'webjobs-blobtrigger-poison'
  'pipeline-events'
  'pipeline-events-poison'
]
// shared.services.deps.Tables(prefix='autopilot').all()
var stateTables = [
  'autopilotbatches'
  'autopilotruns'
  'autopilotactive'
  'autopilotwatch'
  'autopilothistory'
  'autopilotreceipts'
  'autopilotverdicts'
  'autopilotdeliveries'
  'autopilotchannels'
  'autopilotdigest'
  'autopilotevents'
  'autopilotrefreshes'
  'autopilotfeedback'
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: rgName
  location: location
  tags: tags
}

module appIdentity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-autopilot-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-autopilot-${resourceToken}'
    applicationInsightsName: 'appi-autopilot-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    containerNames: [
      deploymentContainerName
    ]
    queueNames: appQueues
    tableNames: stateTables
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    enablePurgeProtection: keyVaultPurgeProtection
    teamsWebhookUrl: teamsWebhookUrl
    teamsWebhookSecretName: teamsWebhookSecretName
  }
}

module factory 'modules/data-factory.bicep' = if (createFactory) {
  name: 'data-factory'
  scope: rg
  params: {
    name: newFactoryName
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module factoryRef 'modules/factory-ref.bicep' = {
  name: 'factory-ref'
  scope: resourceGroup(factoryResourceGroupName)
  params: {
    name: factoryName
  }
  dependsOn: [
    factory
  ]
}

module dataStorage 'modules/data-storage.bicep' = {
  name: 'data-storage'
  scope: resourceGroup(dataResourceGroupName)
  params: {
    accountName: dataAccountName
    isAppStorage: dataIsAppStorage
    upstreamContainerName: upstreamContainerName
    outputContainerName: outputContainerName
    systemTopicName: 'evgt-autopilot-${resourceToken}'
    appPrincipalId: appIdentity.outputs.principalId
    factoryPrincipalId: factoryRef.outputs.principalId
    tags: tags
  }
  dependsOn: [
    storage
  ]
}

module email 'modules/communication.bicep' = if (enableEmail) {
  name: 'communication'
  scope: rg
  params: {
    namePrefix: 'autopilot-${resourceToken}'
    appPrincipalId: appIdentity.outputs.principalId
    dataLocation: emailDataLocation
    tags: tags
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-autopilot-${resourceToken}'
    location: location
    tags: tags
    identityId: appIdentity.outputs.id
    identityClientId: appIdentity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    dataStorageAccountName: dataAccountName
    dataBlobEndpoint: dataStorage.outputs.blobEndpoint
    dataQueueEndpoint: dataStorage.outputs.queueEndpoint
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    keyVaultUri: keyVault.outputs.uri
    teamsWebhookSecretName: teamsWebhookSecretName
    pythonVersion: pythonVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    pipelinesConfig: pipelinesConfig
    upstreamSchedule: upstreamSchedule
    outputContainerName: outputContainerName
    factorySubscriptionId: subscription().subscriptionId
    factoryResourceGroup: factoryResourceGroupName
    factoryName: factoryName
    factoryPrincipalId: factoryRef.outputs.principalId
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceCustomerId
    emailEndpoint: enableEmail ? email.outputs.endpoint : ''
    emailSender: enableEmail ? email.outputs.sender : ''
    powerBiWorkspaceId: powerBiWorkspaceId
    webhookAuthAudience: webhookAuthAudience
  }
  dependsOn: [
    rbac
  ]
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: appIdentity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    logAnalyticsName: monitoring.outputs.workspaceName
    appInsightsName: monitoring.outputs.appInsightsName
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

module factoryAccess 'modules/factory-access.bicep' = {
  name: 'factory-access'
  scope: resourceGroup(factoryResourceGroupName)
  params: {
    factoryName: factoryName
    appPrincipalId: appIdentity.outputs.principalId
    roleNameSuffix: resourceToken
  }
  dependsOn: [
    factoryRef
  ]
}

module examplePipeline 'modules/adf-pipeline.bicep' = if (deployExamplePipeline) {
  name: 'adf-pipeline'
  scope: resourceGroup(factoryResourceGroupName)
  params: {
    factoryName: factoryName
    dataBlobEndpoint: dataStorage.outputs.blobEndpoint
    upstreamContainerName: upstreamContainerName
    outputContainerName: outputContainerName
    outputPrefix: outputPrefix
    webhookUrl: 'https://${functionApp.outputs.defaultHostName}/api/pipeline-events'
    keyVaultUri: keyVault.outputs.uri
    webhookKeySecretName: webhookKeySecretName
    webhookAuthAudience: webhookAuthAudience
  }
  dependsOn: [
    factoryRef
  ]
}

module heartbeat 'modules/heartbeat-alerts.bicep' = {
  name: 'heartbeat-alerts'
  scope: rg
  params: {
    appInsightsId: monitoring.outputs.appInsightsId
    location: location
    tags: tags
    namePrefix: 'autopilot-${resourceToken}'
    alertEmail: alertEmail
    watcherWindow: watcherHeartbeatWindow
    dispatcherWindow: dispatcherHeartbeatWindow
  }
}

module metricsWorkbook 'modules/metrics-workbook.bicep' = {
  name: 'metrics-workbook'
  scope: rg
  params: {
    appInsightsId: monitoring.outputs.appInsightsId
    location: location
    tags: tags
    namePrefix: 'autopilot-${resourceToken}'
    actionGroupIds: empty(alertEmail) ? [] : [
      heartbeat.outputs.actionGroupId
    ]
  }
}

// Read by azd (and by infra/scripts/postdeploy.sh through `azd env get-values`).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName
// The operator's status page (GET, function key: ?code=<a function key> or the x-functions-key header).
output STATUS_PAGE_URL string = 'https://${functionApp.outputs.defaultHostName}/api/status'
// Where the false alarm / expected actions of alerts point (anonymous: the signed token is the credential).
output FEEDBACK_URL string = 'https://${functionApp.outputs.defaultHostName}/api/feedback'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_CLIENT_ID string = appIdentity.outputs.clientId
output AZURE_APP_PRINCIPAL_ID string = appIdentity.outputs.principalId
output DATA_STORAGE_ACCOUNT_NAME string = dataAccountName
output DATA_RESOURCE_GROUP string = dataResourceGroupName
output EVENT_GRID_SYSTEM_TOPIC string = dataStorage.outputs.systemTopicName
output OUTPUT_CONTAINER string = outputContainerName
output ADF_FACTORY_NAME string = factoryName
output ADF_RESOURCE_GROUP string = factoryResourceGroupName
output ADF_PRINCIPAL_ID string = factoryRef.outputs.principalId
output WEBHOOK_KEY_SECRET_NAME string = webhookKeySecretName
output LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.workspaceCustomerId
