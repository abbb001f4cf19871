#!/bin/sh
# azd postdeploy hook: the wiring that needs the deployed code, so it cannot live in Bicep.
#  1. Subscribe the output guard's blob trigger to the data account's Event Grid system topic,
#     filtered to the output locations of the pipelines config. The webhook URL carries the
#     `blobs_extension` system key, which exists only once the host runs the deployed code.
#  2. Store the pipeline-events function key in Key Vault for the factory's Web activities, and
#     let the factory's identity read that one secret.
# Idempotent: every `azd up` / `azd deploy` runs it again. Needs: az (logged in), python3.
# azd passes the environment's values (the outputs of infra/main.bicep) as environment variables.
set -eu

: "${AZURE_RESOURCE_GROUP:?run through azd (azd up / azd deploy): outputs of infra/main.bicep are missing}"
: "${AZURE_FUNCTION_APP_NAME:?}" "${AZURE_FUNCTION_APP_HOSTNAME:?}" "${AZURE_KEY_VAULT_NAME:?}"
: "${DATA_RESOURCE_GROUP:?}" "${EVENT_GRID_SYSTEM_TOPIC:?}" "${OUTPUT_CONTAINER:?}"
: "${ADF_PRINCIPAL_ID:?}" "${WEBHOOK_KEY_SECRET_NAME:?}"

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
PYTHON=${AUTOPILOT_PYTHON:-python3}
[ -x "$ROOT/.venv/bin/python" ] && PYTHON=${AUTOPILOT_PYTHON:-$ROOT/.venv/bin/python}
PIPELINES_CONFIG=${PIPELINES_CONFIG:-pipelines.yaml}
ATTEMPTS=${AUTOPILOT_KEY_ATTEMPTS:-30}
PAUSE=${AUTOPILOT_KEY_PAUSE:-10}

say() { printf 'postdeploy: %s\n' "$*" >&2; }

# Wait until the host, started on the new code, has registered a key (it can take a minute).
wait_for() {
    what=$1; shift
    i=0
    while [ "$i" -lt "$ATTEMPTS" ]; do
        value=$("$@" 2>/dev/null || true)
        if [ -n "$value" ]; then printf '%s' "$value"; return 0; fi
        i=$((i + 1))
        say "waiting for $what ($i/$ATTEMPTS)"
        sleep "$PAUSE"
    done
    say "gave up waiting for $what; is the app running? (az functionapp show -g $AZURE_RESOURCE_GROUP -n $AZURE_FUNCTION_APP_NAME)"
    return 1
}

# --- 1. Event Grid subscription for the output guard -------------------------------------------
FILTERS=$("$PYTHON" "$ROOT/infra/scripts/output_filters.py" --config "$ROOT/$PIPELINES_CONFIG" \
          --container "$OUTPUT_CONTAINER")
BEGINS=$(printf '%s' "$FILTERS" | "$PYTHON" -c 'import json,sys; print(" ".join(json.load(sys.stdin)["begins"]))')
EXCLUDES=$(printf '%s' "$FILTERS" | "$PYTHON" -c 'import json,sys; print(" ".join(json.load(sys.stdin)["excludes"]))')

BLOBS_KEY=$(wait_for "the blobs_extension key" az functionapp keys list \
    --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --query systemKeys.blobs_extension --output tsv)
ENDPOINT="https://$AZURE_FUNCTION_APP_HOSTNAME/runtime/webhooks/blobs?functionName=Host.Functions.output_guard&code=$BLOBS_KEY"

# shellcheck disable=SC2086  # BEGINS / EXCLUDES are lists of subject prefixes without spaces
set -- --advanced-filter subject StringBeginsWith $BEGINS
[ -n "$EXCLUDES" ] && set -- "$@" --advanced-filter subject StringNotBeginsWith $EXCLUDES
say "subscribing output_guard to BlobCreated under: $BEGINS"
az eventgrid system-topic event-subscription create \
    --name output-guard \
    --resource-group "$DATA_RESOURCE_GROUP" \
    --system-topic-name "$EVENT_GRID_SYSTEM_TOPIC" \
    --endpoint-type webhook \
    --endpoint "$ENDPOINT" \
    --included-event-types Microsoft.Storage.BlobCreated \
    --subject-begins-with "/blobServices/default/containers/$OUTPUT_CONTAINER/blobs/" \
    --event-delivery-schema EventGridSchema \
    --max-delivery-attempts 30 \
    --event-ttl 1440 \
    "$@" \
    --output none

# --- 2. The pipeline-events key, for the factory ------------------------------------------------
FUNCTION_KEY=$(wait_for "the pipeline_events function key" az functionapp function keys list \
    --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --function-name pipeline_events --query default --output tsv)
# The key goes through a private temporary file, never through a command line (visible in `ps`).
KEY_FILE=$(umask 077 && mktemp)
trap 'rm -f "$KEY_FILE"' EXIT
printf '%s' "$FUNCTION_KEY" > "$KEY_FILE"
az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$WEBHOOK_KEY_SECRET_NAME" \
    --file "$KEY_FILE" --encoding utf-8 --content-type text/plain --output none
rm -f "$KEY_FILE"
say "stored the pipeline-events key in $AZURE_KEY_VAULT_NAME/$WEBHOOK_KEY_SECRET_NAME"

# Why: the factory's GetWebhookKey activity reads this one secret with the factory's identity.
# Scoped to the secret (not the vault, which also holds the Teams webhook URL); assigned here and
# not in Bicep because the secret only exists from this hook on.
VAULT_ID=$(az keyvault show --name "$AZURE_KEY_VAULT_NAME" --query id --output tsv)
SCOPE="$VAULT_ID/secrets/$WEBHOOK_KEY_SECRET_NAME"
EXISTING=$(az role assignment list --scope "$SCOPE" --assignee "$ADF_PRINCIPAL_ID" \
    --role "Key Vault Secrets User" --query "length(@)" --output tsv)
if [ "${EXISTING:-0}" = "0" ]; then
    az role assignment create --scope "$SCOPE" --role "Key Vault Secrets User" \
        --assignee-object-id "$ADF_PRINCIPAL_ID" --assignee-principal-type ServicePrincipal --output none
    say "granted the factory read on $WEBHOOK_KEY_SECRET_NAME"
fi

# --- 3. The key that signs the alerts' feedback actions (FEEDBACK_SIGNING_KEY) ----------------------
# Made once, at random, and kept: a new key would make every feedback link already sent a forgery.
if ! az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name feedback-signing-key \
        --query id --output tsv >/dev/null 2>&1; then
    KEY_FILE=$(umask 077 && mktemp)
    head -c 48 /dev/urandom | base64 | tr -d '\n' > "$KEY_FILE"
    az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name feedback-signing-key \
        --file "$KEY_FILE" --encoding utf-8 --content-type text/plain --output none
    rm -f "$KEY_FILE"
    say "created the feedback signing key in $AZURE_KEY_VAULT_NAME/feedback-signing-key"
fi
say "done"
