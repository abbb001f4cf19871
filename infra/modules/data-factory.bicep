// A new Data Factory with a system-assigned identity (used only when no existing factory is given).

param name string
param location string
param tags object = {}
@description('Log Analytics workspace (resource id) that receives the factory\'s run logs.')
param logAnalyticsWorkspaceId string

resource factory 'Microsoft.DataFactory/factories@2018-06-01' = {
  // checkov:skip=CKV_AZURE_104: the example factory uses the Azure integration runtime without a managed VNet; it reaches storage and Key Vault with its managed identity.
  // checkov:skip=CKV_AZURE_103: the example pipeline is authored as code in this repository (adf-pipeline.bicep); Git mode would make the factory's UI the source of truth instead.
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    publicNetworkAccess: 'Enabled'
  }
}

// Pipeline and activity runs go to the workspace in resource-specific ("Dedicated") tables, so
// ADFPipelineRun exists: the webhook learns run durations from it.
resource runLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'autopilot-run-logs'
  scope: factory
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'PipelineRuns'
        enabled: true
      }
      {
        category: 'ActivityRuns'
        enabled: true
      }
    ]
  }
}

output id string = factory.id
output name string = factory.name
