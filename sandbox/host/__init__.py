"""The project's local Azure Functions host (Core Tools cannot be installed here).

``LocalHost(app, settings).start()`` runs the app's timer, queue, blob and HTTP triggers against
Azurite and a local HTTP port; ``python -m sandbox.host --settings local.settings.json`` runs
``function_app.app`` until Ctrl-C.
"""

from sandbox.host.bindings import Function, HostOptions
from sandbox.host.invocations import Invocation
from sandbox.host.runtime import LocalHost

__all__ = ["Function", "HostOptions", "Invocation", "LocalHost"]
