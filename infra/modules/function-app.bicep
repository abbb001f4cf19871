// The Function App on the Flex Consumption plan (Linux, Python), running as the user-assigned
// identity. Every app setting the code reads is declared here, in one list: tests/infra checks
// this list against shared/config.py SETTINGS in both directions.

param name string
param planName string
param location string
param tags object = {}
param identityId string
param identityClientId string
param storageAccountName string
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param dataStorageAccountName string
param dataBlobEndpoint string
param dataQueueEndpoint string
param appInsightsConnectionString string
param keyVaultUri string
param teamsWebhookSecretName string
param pythonVersion string = '3.13'
@minValue(512)
param instanceMemoryMB int = 2048
@minValue(1)
param maximumInstanceCount int = 40
param pipelinesConfig string
param upstreamSchedule string
param outputContainerName string
param factorySubscriptionId string
param factoryResourceGroup string
param factoryName string
param factoryPrincipalId string
param logAnalyticsWorkspaceId string
param emailEndpoint string = ''
param emailSender string = ''
param powerBiWorkspaceId string = ''
param webhookAuthAudience string = ''

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy of Flex Consumption is not offered in every region it runs in; turn it on (zoneRedundant) where it is.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: the factory's Web activities and Event Grid call the app over the internet (no VNet in this template); HTTP routes need a function key, the Event Grid route the blobs_extension key.
  // checkov:skip=CKV_AZURE_17: the callers (ADF Web activity, Event Grid) cannot present client certificates; they authenticate with keys and, optionally, Entra ID tokens.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales on demand; always-ready instances would bill around the clock for an hourly timer.
  // checkov:skip=CKV_AZURE_213: health check pings are an App Service plan feature that Flex Consumption does not offer; heartbeat alerts (heartbeat-alerts.bicep) watch the app instead.
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'autopilot' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    // Key Vault references (@Microsoft.KeyVault(...)) resolve with the user-assigned identity.
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION:
      // the runtime comes from functionAppConfig above.
      appSettings: [
        // Host storage, identity-based (shared keys are off on the account).
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storageBlobEndpoint
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storageQueueEndpoint
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storageTableEndpoint
        }
        // The data account (upstream and output blobs): the output guard's blob trigger connection.
        // The blob trigger with an Event Grid source needs the queue endpoint too.
        {
          name: 'DATA_STORAGE__accountName'
          value: dataStorageAccountName
        }
        {
          name: 'DATA_STORAGE__credential'
          value: 'managedidentity'
        }
        {
          name: 'DATA_STORAGE__clientId'
          value: identityClientId
        }
        {
          name: 'DATA_STORAGE__blobServiceUri'
          value: dataBlobEndpoint
        }
        {
          name: 'DATA_STORAGE__queueServiceUri'
          value: dataQueueEndpoint
        }
        // Telemetry: OpenTelemetry to Application Insights, ingested with Entra ID (local auth is off).
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        {
          name: 'PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY'
          value: 'true'
        }
        // DefaultAzureCredential picks the user-assigned identity by its client id.
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        // The app's own settings (shared/config.py SETTINGS).
        {
          name: 'PIPELINES_CONFIG'
          value: pipelinesConfig
        }
        {
          name: 'UPSTREAM_SCHEDULE'
          value: upstreamSchedule
        }
        {
          name: 'FOLLOWUP_SCHEDULE'
          value: '0 */5 * * * *'
        }
        {
          name: 'OUTPUT_CONTAINER'
          value: outputContainerName
        }
        {
          name: 'ADF_SUBSCRIPTION_ID'
          value: factorySubscriptionId
        }
        {
          name: 'ADF_RESOURCE_GROUP'
          value: factoryResourceGroup
        }
        {
          name: 'ADF_FACTORY_NAME'
          value: factoryName
        }
        {
          name: 'TEAMS_WEBHOOK_URL'
          value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${teamsWebhookSecretName})'
        }
        {
          // Created by the postdeploy hook when missing (random, 48 bytes); until then the reference does not
          // resolve and alerts carry no feedback actions.
          name: 'FEEDBACK_SIGNING_KEY'
          value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/feedback-signing-key)'
        }
        {
          name: 'ACS_EMAIL_ENDPOINT'
          value: emailEndpoint
        }
        {
          name: 'ACS_EMAIL_SENDER'
          value: emailSender
        }
        {
          name: 'POWERBI_WORKSPACE_ID'
          value: powerBiWorkspaceId
        }
        {
          name: 'LOG_ANALYTICS_WORKSPACE_ID'
          value: logAnalyticsWorkspaceId
        }
        // Optional Entra ID check on /api/pipeline-events, on top of the function key: the token's
        // audience and the object ids allowed to call (the factory's managed identity).
        {
          name: 'WEBHOOK_AUTH_AUDIENCE'
          value: webhookAuthAudience
        }
        {
          name: 'WEBHOOK_ALLOWED_PRINCIPALS'
          value: factoryPrincipalId
        }
        {
          name: 'WEBHOOK_AUTH_TENANT_ID'
          value: tenant().tenantId
        }
      ]
    }
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
