#!/bin/sh
# Select (or create) the azd environment of one stage and load its parameters from
# infra/environments/<stage>.env, so CI deploys dev, test and prod from files in the repository.
#   sh infra/scripts/azd_environment.sh dev|test|prod
# Needs: azd, logged in; AZURE_SUBSCRIPTION_ID (the CI job sets it from its identity).
# A file line is KEY=value: no quotes, no `export`, the value is everything after the first `=`.
# Secrets never go in these files: set them per environment (`azd env set`, or Key Vault).
set -eu

STAGE=${1:?usage: azd_environment.sh STAGE (a file infra/environments/STAGE.env)}
: "${AZURE_SUBSCRIPTION_ID:?set AZURE_SUBSCRIPTION_ID to the subscription this stage deploys to}"
ROOT=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
FILE="$ROOT/infra/environments/$STAGE.env"

say() { printf 'azd_environment: %s\n' "$*" >&2; }

[ -f "$FILE" ] || { say "no parameters file for stage '$STAGE': $FILE"; exit 2; }

# Read and check the whole file before touching azd: a bad line must not leave half an environment.
bad=$(grep -n -v -E '^[[:space:]]*(#|$)|^[A-Z][A-Z0-9_]*=' "$FILE" || true)
if [ -n "$bad" ]; then
    say "$FILE: lines that are not KEY=value:"
    printf '%s\n' "$bad" >&2
    exit 2
fi
value_of() { sed -n "s/^$1=//p" "$FILE" | tail -n 1; }
ENV_NAME=$(value_of AZURE_ENV_NAME)
LOCATION=$(value_of AZURE_LOCATION)
[ -n "$ENV_NAME" ] || { say "$FILE does not set AZURE_ENV_NAME"; exit 2; }
[ -n "$LOCATION" ] || { say "$FILE does not set AZURE_LOCATION"; exit 2; }

# A fresh CI runner has no .azure/ folder: the environment is created there, and `azd provision`
# finds the stage's resources again by name (the environment name and the subscription make them).
if azd env select "$ENV_NAME" >/dev/null 2>&1; then
    say "selected azd environment $ENV_NAME"
else
    say "creating azd environment $ENV_NAME"
    azd env new "$ENV_NAME" --subscription "$AZURE_SUBSCRIPTION_ID" --location "$LOCATION" --no-prompt
fi
azd env set AZURE_SUBSCRIPTION_ID "$AZURE_SUBSCRIPTION_ID"

grep -E '^[A-Z][A-Z0-9_]*=' "$FILE" | while IFS= read -r line; do
    key=${line%%=*}
    value=${line#*=}
    [ "$key" = AZURE_ENV_NAME ] && continue
    say "$key=$value"
    azd env set "$key" "$value"
done
