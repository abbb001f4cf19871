"""Which engine runs a dataset's pipelines (ADF, Synapse, Fabric), and that engine's runner and links.

Services ask here instead of reaching for ADF's runner: ``runner_for(deps, ds)`` for a dataset, and
``engine_of_event`` for a pipeline event, which names its engine, its factory or workspace, or neither.
"""

from __future__ import annotations

from shared.core.models import Link
from shared.core.spec import DatasetSpec
from shared.ports import PipelineRunner
from shared.services.deps import Deps

ENGINES = ("adf", "synapse", "fabric")


def runner(deps: Deps, engine: str) -> PipelineRunner | None:
    """The engine's runner; None when the app has no settings for it."""
    found = deps.runners.get(engine)
    if found is None and engine == "adf":
        return deps.runner
    return found


def runner_for(deps: Deps, ds: DatasetSpec) -> PipelineRunner | None:
    return runner(deps, ds.engine)


def links(deps: Deps, engine: str, run_id: str) -> tuple[Link, ...]:
    """Where to open the run: the ADF monitor, Synapse Studio's monitoring hub, Fabric's monitoring hub."""
    make = deps.engine_links.get(engine)
    if make is None:
        return deps.run_links(run_id) if engine == "adf" else ()
    return make(run_id)


def names(deps: Deps) -> dict[str, str]:
    """Engine → the factory or workspace its runs report in a pipeline event (lowercase), when known."""
    out = {engine: name.lower() for engine, name in deps.engine_names.items() if name}
    if "adf" not in out and deps.factory_name:
        out["adf"] = deps.factory_name.lower()
    return out


def accepts(deps: Deps, factory: str) -> bool:
    """Whether a pipeline event's factory (or workspace) is one this app runs pipelines in."""
    known = names(deps)
    return not known or factory.lower() in known.values()


def engine_of_event(deps: Deps, engine: str, factory: str, pipeline: str) -> str:
    """The engine a pipeline event came from: the one it names, else the one whose factory or workspace it
    names, else the engine of the datasets running that pipeline, else ADF."""
    if engine:
        return engine
    for name_engine, name in names(deps).items():
        if factory.lower() == name:
            return name_engine
    for ds in deps.config.datasets:
        if ds.pipeline is not None and ds.pipeline.name == pipeline:
            return ds.engine
        if ds.retrain is not None and ds.retrain.pipeline == pipeline:
            return ds.engine
    return "adf"
