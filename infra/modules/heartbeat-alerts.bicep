// Heartbeat alerts: the app cannot report its own death, so Azure Monitor watches for it.
// The upstream watcher and the alert dispatcher each log one structured record per run,
// message "autopilot heartbeat" with a `component` dimension; a scheduled query fires when a
// component has logged none for its window, and resolves itself when heartbeats come back.

param appInsightsId string
param location string
param tags object = {}
param namePrefix string
@description('Email address for heartbeat alerts. Empty: no action group (alerts still show in Azure Monitor).')
param alertEmail string = ''
@description('Silence after which the upstream watcher counts as dead (ISO 8601). Its schedule is hourly by default.')
param watcherWindow string = 'PT2H'
@description('Silence after which the alert dispatcher counts as dead (ISO 8601).')
param dispatcherWindow string = 'PT2H'

var heartbeats = [
  {
    component: 'upstream_watcher'
    window: watcherWindow
  }
  {
    component: 'alert_dispatcher'
    window: dispatcherWindow
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-heartbeat'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'autopilot'
    enabled: true
    emailReceivers: [
      {
        name: 'on-call'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource missingHeartbeat 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for beat in heartbeats: {
  name: '${namePrefix}-${beat.component}-heartbeat-missing'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'ADF Autopilot: ${beat.component} heartbeat missing'
    description: 'No "autopilot heartbeat" record from ${beat.component} in ${beat.window}: the function is not running (stopped app, failing deployment, broken trigger).'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: beat.window
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'traces | where message == "autopilot heartbeat" | where tostring(customDimensions.component) == "${beat.component}"'
          timeAggregation: 'Count'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmail) ? [] : [
        actionGroup.id
      ]
    }
  }
}]

// The on-call action group ('' without alertEmail), for other alert rules to notify too.
output actionGroupId string = empty(alertEmail) ? '' : actionGroup.id
