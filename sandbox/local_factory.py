"""The one local factory's names: what the ADF emulator answers to by default, what ``make up`` and the
demo configure, and what local.settings.example.json carries (a unit test keeps that file in step).
A request for any other factory gets ARM's 404, as it would in Azure."""

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "rg-autopilot-local"
FACTORY_NAME = "adf-autopilot-local"
