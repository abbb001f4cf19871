// The example pipeline `score_batch`, matching the sandbox's local example: it takes a batch
// (batchId, dataset, prefix, files), processes the batch's upstream files into the output
// container, and ends with a Web activity on success and one on failure that POST the run's facts
// to the app's /api/pipeline-events (DESIGN 3.5). If the webhook answers 202, the Web activity polls
// the Location it returns, /api/pipeline-events/{run_id}, until the decision is made (async pattern).
// The Copy activity stands in for the real processing (Azure ML, Databricks, a notebook...): replace it and keep the last three activities.
//
// Auth of the callback, with the factory's managed identity only (no secret in the pipeline):
// 1. `GetWebhookKey` reads the function key from Key Vault with the factory's identity
//    (its output is secure, so the key never shows in run history);
// 2. the Notify activities send it as `x-functions-key` (their input is secure too), and, when
//    webhookAuthAudience is set, also an Entra ID bearer token of the factory's identity.

param factoryName string
param pipelineName string = 'score_batch'
param dataBlobEndpoint string
param upstreamContainerName string
param outputContainerName string
param outputPrefix string
param webhookUrl string
param keyVaultUri string
param webhookKeySecretName string
@description('Audience of the Entra ID token the Notify activities add. Empty: function key only.')
param webhookAuthAudience string = ''

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: factoryName
}

// Blob access with the factory's system-assigned identity: no key, no SAS, no connection string.
resource dataStorage 'Microsoft.DataFactory/factories/linkedservices@2018-06-01' = {
  parent: factory
  name: 'AutopilotDataStorage'
  properties: {
    type: 'AzureBlobStorage'
    description: 'The data account, reached with the factory managed identity.'
    typeProperties: {
      serviceEndpoint: dataBlobEndpoint
      accountKind: 'StorageV2'
    }
  }
}

resource upstreamFiles 'Microsoft.DataFactory/factories/datasets@2018-06-01' = {
  parent: factory
  name: 'AutopilotUpstreamCsv'
  properties: {
    type: 'DelimitedText'
    linkedServiceName: {
      referenceName: dataStorage.name
      type: 'LinkedServiceReference'
    }
    typeProperties: {
      location: {
        type: 'AzureBlobStorageLocation'
        container: upstreamContainerName
      }
      columnDelimiter: ','
      firstRowAsHeader: true
      quoteChar: '"'
    }
  }
}

resource outputFile 'Microsoft.DataFactory/factories/datasets@2018-06-01' = {
  parent: factory
  name: 'AutopilotOutputCsv'
  properties: {
    type: 'DelimitedText'
    linkedServiceName: {
      referenceName: dataStorage.name
      type: 'LinkedServiceReference'
    }
    parameters: {
      folder: {
        type: 'String'
      }
    }
    typeProperties: {
      location: {
        type: 'AzureBlobStorageLocation'
        container: outputContainerName
        folderPath: {
          value: '@dataset().folder'
          type: 'Expression'
        }
        fileName: 'scores.csv'
      }
      columnDelimiter: ','
      firstRowAsHeader: true
      quoteChar: '"'
    }
  }
}

var webhookBody = {
  factory: '@{pipeline().DataFactory}'
  pipeline: '@{pipeline().Pipeline}'
  runId: '@{pipeline().RunId}'
  batchId: '@{pipeline().parameters.batchId}'
}
var notifyHeaders = {
  'Content-Type': 'application/json'
  'x-functions-key': '@{activity(\'GetWebhookKey\').output.value}'
}
var notifyAuth = empty(webhookAuthAudience) ? {} : {
  authentication: {
    type: 'MSI'
    resource: webhookAuthAudience
  }
}
// Retries ride out a cold start of the app; the webhook is idempotent per run id.
var notifyPolicy = {
  timeout: '0.00:05:00'
  retry: 3
  retryIntervalInSeconds: 60
  secureInput: true
  secureOutput: false
}

resource pipeline 'Microsoft.DataFactory/factories/pipelines@2018-06-01' = {
  parent: factory
  name: pipelineName
  properties: {
    description: 'Example batch pipeline started by ADF Autopilot; reports its end to /api/pipeline-events.'
    parameters: {
      batchId: {
        type: 'String'
      }
      dataset: {
        type: 'String'
      }
      prefix: {
        type: 'String'
      }
      files: {
        type: 'String'
        defaultValue: ''
      }
    }
    activities: [
      {
        name: 'Score'
        description: 'Stands in for the real processing: reads the batch CSV files, writes one output file.'
        type: 'Copy'
        policy: {
          timeout: '0.02:00:00'
          retry: 1
          retryIntervalInSeconds: 120
          secureInput: false
          secureOutput: false
        }
        inputs: [
          {
            referenceName: upstreamFiles.name
            type: 'DatasetReference'
          }
        ]
        outputs: [
          {
            referenceName: outputFile.name
            type: 'DatasetReference'
            parameters: {
              folder: {
                value: '@concat(\'${outputPrefix}/\', replace(pipeline().parameters.batchId, \'/\', \'-\'))'
                type: 'Expression'
              }
            }
          }
        ]
        typeProperties: {
          source: {
            type: 'DelimitedTextSource'
            storeSettings: {
              type: 'AzureBlobStorageReadSettings'
              recursive: true
              wildcardFolderPath: {
                value: '@pipeline().parameters.prefix'
                type: 'Expression'
              }
              wildcardFileName: '*.csv'
            }
            formatSettings: {
              type: 'DelimitedTextReadSettings'
            }
          }
          sink: {
            type: 'DelimitedTextSink'
            storeSettings: {
              type: 'AzureBlobStorageWriteSettings'
              copyBehavior: 'MergeFiles'
            }
            formatSettings: {
              type: 'DelimitedTextWriteSettings'
              fileExtension: '.csv'
              quoteAllText: false
            }
          }
          enableStaging: false
        }
      }
      {
        name: 'GetWebhookKey'
        description: 'Reads the pipeline-events function key from Key Vault with the factory managed identity.'
        type: 'WebActivity'
        dependsOn: [
          {
            activity: 'Score'
            dependencyConditions: [
              'Completed'
            ]
          }
        ]
        policy: {
          timeout: '0.00:05:00'
          retry: 2
          retryIntervalInSeconds: 30
          secureInput: false
          secureOutput: true
        }
        typeProperties: {
          method: 'GET'
          url: '${keyVaultUri}secrets/${webhookKeySecretName}?api-version=7.4'
          authentication: {
            type: 'MSI'
            resource: 'https://vault.azure.net'
          }
        }
      }
      {
        name: 'NotifySucceeded'
        type: 'WebActivity'
        dependsOn: [
          {
            activity: 'Score'
            dependencyConditions: [
              'Succeeded'
            ]
          }
          {
            activity: 'GetWebhookKey'
            dependencyConditions: [
              'Succeeded'
            ]
          }
        ]
        policy: notifyPolicy
        typeProperties: union({
          method: 'POST'
          url: webhookUrl
          headers: notifyHeaders
          body: union(webhookBody, {
            status: 'Succeeded'
          })
        }, notifyAuth)
      }
      {
        name: 'NotifyFailed'
        type: 'WebActivity'
        dependsOn: [
          {
            activity: 'Score'
            dependencyConditions: [
              'Failed'
            ]
          }
          {
            activity: 'GetWebhookKey'
            dependencyConditions: [
              'Succeeded'
            ]
          }
        ]
        policy: notifyPolicy
        typeProperties: union({
          method: 'POST'
          url: webhookUrl
          headers: notifyHeaders
          body: union(webhookBody, {
            status: 'Failed'
            error: {
              message: '@{activity(\'Score\').error.message}'
              activity: 'Score'
            }
          })
        }, notifyAuth)
      }
    ]
  }
}

output pipelineName string = pipeline.name
