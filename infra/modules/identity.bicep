// The one identity the Function App uses for everything: storage, Key Vault, the factory,
// Log Analytics, Application Insights ingestion and (optionally) email. User-assigned, so it exists
// before the app does and role assignments are in place when the app first starts.

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
