// Key Vault for the app's secrets (the Teams webhook URL, the pipeline-events function key the
// factory reads). RBAC authorization only: no access policies. App settings reference secrets with
// @Microsoft.KeyVault(...), resolved with the app's user-assigned identity.

param name string
param location string
param tags object = {}
@description('Keep purge protection on for shared environments; turn it off only for throwaway dev environments so `azd down --purge` can remove the vault.')
param enablePurgeProtection bool = true
@secure()
@description('Teams Workflows webhook URL. Empty: the secret is not written here; set it later with `az keyvault secret set`.')
param teamsWebhookUrl string = ''
param teamsWebhookSecretName string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: no VNet in this template: App Service resolves Key Vault references and the factory reads the webhook key over the public endpoint; access is RBAC with Entra ID only.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109.
  // checkov:skip=CKV_AZURE_110: purge protection is on by default (parameter); ARM refuses `false`, so the property is omitted when turned off, and checkov cannot evaluate that conditional.
  // checkov:skip=CKV_AZURE_42: soft delete is always on; the check also requires purge protection, see CKV_AZURE_110.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    enablePurgeProtection: enablePurgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

// Written only when a value is supplied (from the azd environment, never from a file in the repo).
resource teamsWebhookSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamsWebhookUrl)) {
  // checkov:skip=CKV_AZURE_41: a Teams Workflows URL has no expiry of its own; an expiry date here would silently disable the Teams channel. The owner rotates it by writing a new version.
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional (`if`) resource.
  parent: vault
  name: teamsWebhookSecretName
  properties: {
    value: teamsWebhookUrl
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
