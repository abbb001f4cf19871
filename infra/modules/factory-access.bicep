// The app's rights on the factory, deployed in the factory's resource group. Data Factory
// Contributor would let the app edit pipelines, linked services and triggers; the app only starts
// runs, reads them back and cancels its own, so it gets a custom role with exactly those actions,
// assignable on this one factory.

param factoryName string
param appPrincipalId string
param roleNameSuffix string

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: factoryName
}

resource runOperator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(factory.id, 'adf-autopilot-run-operator')
  properties: {
    roleName: 'ADF Autopilot run operator (${roleNameSuffix})'
    description: 'Start, read, query and cancel pipeline runs of one factory. No authoring rights.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.DataFactory/factories/read'
          'Microsoft.DataFactory/factories/pipelines/read'
          'Microsoft.DataFactory/factories/pipelines/createrun/action'
          'Microsoft.DataFactory/factories/pipelineruns/read'
          'Microsoft.DataFactory/factories/pipelineruns/cancel/action'
          'Microsoft.DataFactory/factories/pipelineruns/queryactivityruns/action'
          'Microsoft.DataFactory/factories/pipelineruns/activityruns/read'
          'Microsoft.DataFactory/factories/querypipelineruns/action'
          'Microsoft.DataFactory/factories/querypipelineruns/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      factory.id
    ]
  }
}

// Why: the upstream watcher starts one run per complete batch (createRun), reconciles crashed
// claims (queryPipelineRuns), and the webhook verifies a run and its activities before trusting
// the body; nothing more (see the custom role above).
resource appRunsPipelines 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(factory.id, appPrincipalId, runOperator.name)
  scope: factory
  properties: {
    // A role definition deployed at resource-group scope must still be referenced by its
    // subscription-level id.
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', runOperator.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
