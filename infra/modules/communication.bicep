// Optional Azure Communication Services Email with an Azure-managed sender domain. The app sends
// with its managed identity (no connection string, no access key in any setting).

param namePrefix string
param appPrincipalId string
param dataLocation string = 'United States'
param tags object = {}

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: '${namePrefix}-email'
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

resource domain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: '${namePrefix}-acs'
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: [
      domain.id
    ]
    disableLocalAuth: true
  }
}

// Sending mail with Entra ID needs these actions on the Communication Services resource; no
// built-in role is narrower than Contributor, so a custom role holds exactly them.
resource emailSender 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(communication.id, 'adf-autopilot-email-sender')
  properties: {
    roleName: 'ADF Autopilot email sender (${namePrefix})'
    description: 'Send email through one Azure Communication Services resource.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Communication/CommunicationServices/Read'
          'Microsoft.Communication/CommunicationServices/Write'
          'Microsoft.Communication/EmailServices/write'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      communication.id
    ]
  }
}

// Why: the alert dispatcher's email channel sends alerts through this resource with the app's
// managed identity; the custom role above allows sending and nothing else.
resource appSendsEmail 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, appPrincipalId, emailSender.name)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', emailSender.name)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output endpoint string = 'https://${communication.properties.hostName}'
output sender string = 'DoNotReply@${domain.properties.mailFromSenderDomain}'
