// Reads a factory (new or existing) to hand its id and managed identity to the other modules.
// Deployed in the factory's resource group.

param name string

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: name
}

output id string = factory.id
output principalId string = factory.identity.principalId
