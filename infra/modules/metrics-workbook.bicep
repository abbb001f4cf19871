// What the app measures, in Azure Monitor: a workbook with per-dataset charts of the metrics every
// validation and run decision records (customMetrics, see shared/core/metrics.py), the run outcomes
// and the alerts sent; and one example log alert rule on drift.
// Why a scheduled query and not a metric alert: OpenTelemetry metrics reach Application Insights as
// customMetrics, and their dimensions (dataset, column) can be split on in a log query without turning
// on "custom metric dimensions" for the whole resource.

param appInsightsId string
param location string
param tags object = {}
param namePrefix string
@description('Action groups the drift alert notifies (e.g. the heartbeat alerts\' group). Empty: the alert shows in Azure Monitor only.')
param actionGroupIds array = []
@description('PSI at or above which the drift alert fires (0.25: major shift, the guard\'s fail band).')
param driftThreshold string = '0.25'

// Per-file histograms are exported as customMetrics rows with valueSum / valueCount / valueMax per
// minute: the mean per file is sum(valueSum) / sum(valueCount).
// "All" datasets is the parameter's select-all value "*".
var perDataset = 'extend dataset = tostring(customDimensions.dataset) | where "*" in ({Dataset}) or dataset in ({Dataset})'
var charts = [
  {
    title: 'Files validated, by status'
    query: 'customMetrics | where name == "autopilot.validations" | ${perDataset} | extend status = tostring(customDimensions.status) | summarize files = sum(valueSum) by status, bin(timestamp, {TimeRange:grain})'
    visualization: 'barchart'
  }
  {
    title: 'Rows per output file'
    query: 'customMetrics | where name == "autopilot.output.rows" | ${perDataset} | summarize rows = sum(valueSum) / sum(valueCount) by dataset, bin(timestamp, {TimeRange:grain})'
    visualization: 'timechart'
  }
  {
    title: 'Bytes per output file'
    query: 'customMetrics | where name == "autopilot.output.bytes" | ${perDataset} | summarize bytes = sum(valueSum) / sum(valueCount) by dataset, bin(timestamp, {TimeRange:grain})'
    visualization: 'timechart'
  }
  {
    title: 'Null share per column (highest file)'
    query: 'customMetrics | where name == "autopilot.output.null_share" | ${perDataset} | extend column = strcat(dataset, "/", tostring(customDimensions.column)) | summarize null_share = max(valueMax) by column, bin(timestamp, {TimeRange:grain})'
    visualization: 'timechart'
  }
  {
    title: 'Drift (PSI) per drift column: 0.1 moderate, 0.25 major'
    query: 'customMetrics | where name == "autopilot.output.drift" | ${perDataset} | extend column = strcat(dataset, "/", tostring(customDimensions.column)) | summarize psi = max(valueMax) by column, bin(timestamp, {TimeRange:grain})'
    visualization: 'timechart'
  }
  {
    title: 'Seconds to validate a file'
    query: 'customMetrics | where name == "autopilot.validation.seconds" | ${perDataset} | summarize mean = sum(valueSum) / sum(valueCount), slowest = max(valueMax) by bin(timestamp, {TimeRange:grain})'
    visualization: 'timechart'
  }
  {
    title: 'Pipeline runs, by outcome'
    query: 'customMetrics | where name == "autopilot.runs" | ${perDataset} | extend outcome = tostring(customDimensions.outcome) | summarize runs = sum(valueSum) by outcome, bin(timestamp, {TimeRange:grain})'
    visualization: 'barchart'
  }
  {
    title: 'Run duration (minutes)'
    query: 'customMetrics | where name == "autopilot.run.seconds" | ${perDataset} | extend pipeline = tostring(customDimensions.pipeline) | summarize minutes = sum(valueSum) / sum(valueCount) / 60 by pipeline, bin(timestamp, {TimeRange:grain})'
    visualization: 'timechart'
  }
  {
    title: 'Alerts sent, by code'
    query: 'traces | where message == "alert sent" | ${perDataset} | extend code = tostring(customDimensions.code) | summarize alerts = dcount(tostring(customDimensions.fingerprint)) by code, bin(timestamp, {TimeRange:grain})'
    visualization: 'barchart'
  }
]

var header = {
  type: 1
  name: 'header'
  content: {
    json: '## ADF Autopilot\nWhat every validation and run decision measured, per dataset. Metric names and dimensions: `shared/core/metrics.py`; alert codes: the README.'
  }
}
var parameters = {
  type: 9
  name: 'parameters'
  content: {
    version: 'KqlParameterItem/1.0'
    parameters: [
      {
        id: 'time-range'
        name: 'TimeRange'
        type: 4
        isRequired: true
        value: {
          durationMs: 604800000
        }
        typeSettings: {
          selectableValues: [
            { durationMs: 86400000 }
            { durationMs: 604800000 }
            { durationMs: 2592000000 }
          ]
        }
      }
      {
        id: 'dataset'
        name: 'Dataset'
        type: 2
        multiSelect: true
        quote: '"'
        delimiter: ','
        query: 'customMetrics | where name == "autopilot.validations" | distinct dataset = tostring(customDimensions.dataset) | order by dataset asc'
        queryType: 0
        resourceType: 'microsoft.insights/components'
        typeSettings: {
          additionalResourceOptions: [
            'value::all'
          ]
          selectAllValue: '*'
          showDefault: false
        }
        defaultValue: 'value::all'
      }
    ]
  }
}
var chartItems = [for (chart, i) in charts: {
  type: 3
  name: 'chart-${i}'
  customWidth: '50'
  content: {
    version: 'KqlItem/1.0'
    title: chart.title
    query: chart.query
    queryType: 0
    resourceType: 'microsoft.insights/components'
    visualization: chart.visualization
    timeContext: {
      durationMs: 0
    }
    timeContextFromParameter: 'TimeRange'
  }
}]

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID: stable per Application Insights resource, so a redeploy updates it.
  name: guid(appInsightsId, 'adf-autopilot-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'ADF Autopilot: validations, runs and alerts'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string({
      version: 'Notebook/1.0'
      items: concat([header, parameters], chartItems)
      isLocked: false
      fallbackResourceIds: [
        appInsightsId
      ]
    })
  }
}

resource driftAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${namePrefix}-drift'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'ADF Autopilot: major drift in a model output'
    description: 'A drift column of a dataset moved against its history by PSI ${driftThreshold} or more (autopilot.output.drift in customMetrics). The guard has also raised a drift finding; this rule is the hook for Azure Monitor actions such as starting a retraining pipeline.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "autopilot.output.drift" | extend dataset = tostring(customDimensions.dataset), column = tostring(customDimensions.column) | summarize psi = max(valueMax) by dataset, column'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'psi'
          dimensions: [
            {
              name: 'dataset'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'column'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThanOrEqual'
          threshold: json(driftThreshold)
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

output workbookId string = workbook.id
output driftAlertId string = driftAlert.id
