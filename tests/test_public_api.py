"""The names each public package exports are pinned, so nothing leaks or vanishes."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import headwater
import headwater.errors
import headwater.sdk
import headwater.spec
import headwater.store

HEADWATER = {
    "sensor",
    "wait_for_asset",
    "wait_for_http",
    "wait_for_path",
    "wait_for_run",
    "wait_for_sql",
    "wait_until",
    "HTML",
    "Artifact",
    "Asset",
    "ClassificationMetrics",
    "Collected",
    "Dataset",
    "Elif",
    "Else",
    "Email",
    "ExitHandler",
    "FinalStatus",
    "If",
    "Input",
    "Markdown",
    "Metrics",
    "Model",
    "Output",
    "ParallelFor",
    "Param",
    "Slack",
    "Template",
    "TensorBoardLogs",
    "Webhook",
    "__version__",
    "compile",
    "component",
    "connection",
    "importer",
    "pipeline",
    "product",
    "register_model",
    "run",
    "secret",
    "tune",
    "tune_step",
    "variable",
    "zip",
}

ERRORS = {
    "ApiError",
    "BundleError",
    "ClientError",
    "ComponentDefinitionError",
    "ConfigurationError",
    "DefinitionError",
    "EnvError",
    "ExportError",
    "HeadwaterError",
    "LimitError",
    "Conflict",
    "IllegalTransition",
    "InvalidValue",
    "LoadError",
    "Location",
    "LostRun",
    "NotFound",
    "NotifyError",
    "OptionNotHonoured",
    "ParameterError",
    "PipelineDefinitionError",
    "Problem",
    "RunError",
    "ServingError",
    "SpecError",
    "UriNotAllowed",
    "StoreError",
    "TuningError",
    "ValidationError",
}


STORE = {
    "CONNECTION_TYPES",
    "ConnectionInfo",
    "ConnectionStore",
    "SecretBackend",
    "SecretInfo",
    "SecretStore",
    "VariableRecord",
    "VariableStore",
    "parse_connection_uri",
    "ALIAS_RE",
    "DEFAULT_NAMESPACE",
    "NAMESPACE_ROLES",
    "MemberRecord",
    "NamespaceRecord",
    "NamespaceStore",
    "check_namespace",
    "DATABASE_FAILURES",
    "DEFAULT_POOL",
    "LATEST",
    "MODEL_NAME_RE",
    "MODEL_TYPES",
    "RUN_TEMPLATES",
    "AliasChange",
    "ArtifactRecord",
    "ArtifactStore",
    "AssetEventRecord",
    "AssetRecord",
    "AssetStore",
    "AuditFilter",
    "AuditRecord",
    "AuditStore",
    "AuthStore",
    "Authenticated",
    "ComparedRun",
    "Comparison",
    "Conflict",
    "ControlStore",
    "Database",
    "DeliveryStatus",
    "DeploymentRecord",
    "DeploymentRevision",
    "DeploymentStore",
    "DueRun",
    "ExperimentStore",
    "ExperimentSummary",
    "InvalidValue",
    "LineageNode",
    "LineageStore",
    "MetadataStore",
    "MetricPoint",
    "ModelRecord",
    "ModelStore",
    "ModelVersionRecord",
    "NewArtifact",
    "NewAuditEvent",
    "NewModelVersion",
    "NewNotification",
    "NotFound",
    "NotificationRecord",
    "OutboxStore",
    "PipelineStore",
    "PipelineSummary",
    "PoolRecord",
    "PoolStore",
    "QueryStore",
    "RootStore",
    "RunFilter",
    "RunRecord",
    "RunResult",
    "RunStore",
    "ScheduleRaceLost",
    "ScheduleRecord",
    "ScheduleStore",
    "ServingRecord",
    "StudyRecord",
    "StudyStore",
    "TrialRecord",
    "SlotRequest",
    "StoreError",
    "TaskRunRecord",
    "TaskStore",
    "TokenRecord",
    "UriRootRecord",
    "UserRecord",
    "VersionRecord",
    "check_alias",
    "check_experiment",
    "check_model_name",
    "check_tags",
    "create_engine",
    "failure_cause",
    "migrate",
    "new_id",
    "parse_condition",
    "process_owner",
}

# What a MetadataStore offers: its handle, and one attribute per area of the store.
METADATA_STORE = {"open", "engine", "namespace", "postgres", "batch", "close", "scoped"}
STORE_AREAS = {
    "pipelines": "PipelineStore",
    "runs": "RunStore",
    "tasks": "TaskStore",
    "lineage": "LineageStore",
    "schedules": "ScheduleStore",
    "control": "ControlStore",
    "pools": "PoolStore",
    "auth": "AuthStore",
    "assets": "AssetStore",
    "queries": "QueryStore",
    "experiments": "ExperimentStore",
    "models": "ModelStore",
    "deployments": "DeploymentStore",
    "namespaces": "NamespaceStore",
    "roots": "RootStore",
    "outbox": "OutboxStore",
    "studies": "StudyStore",
    "secrets": "SecretStore",
    "connections": "ConnectionStore",
    "variables": "VariableStore",
    "audit": "AuditStore",
}


def test_store_exports() -> None:
    assert set(headwater.store.__all__) == STORE


def test_metadata_store_is_its_areas_and_nothing_else(tmp_path: Path) -> None:
    cls = headwater.store.MetadataStore
    assert {n for n in dir(cls) if not n.startswith("_")} == METADATA_STORE
    store = cls.open(f"sqlite:///{tmp_path / 'hw.db'}")
    try:
        public = {n for n in vars(store) if not n.startswith("_")}
        assert public == set(STORE_AREAS)
        for area, kind in STORE_AREAS.items():
            assert type(getattr(store, area)).__name__ == kind, area
    finally:
        store.close()


def test_headwater_exports() -> None:
    assert set(headwater.__all__) == HEADWATER
    for name in HEADWATER:
        assert hasattr(headwater, name), name


def test_no_private_names_leak_from_headwater() -> None:
    public = {n for n in dir(headwater) if not n.startswith("_")}
    # Subpackages appear as attributes once something imports them; they are not leaks.
    modules = {
        n
        for n in public
        if isinstance(getattr(headwater, n), types.ModuleType)
        and getattr(headwater, n).__name__ == f"headwater.{n}"
    }
    assert public - modules == HEADWATER - {"__version__"}


INTEROP = {
    "DEFAULT_BASE_IMAGE",
    "DOCUMENT_SUFFIXES",
    "KFP_RUNTIME",
    "KfpPackage",
    "is_document",
    "is_kfp_ir",
    "load_kfp",
    "load_spec",
    "spec_from_kfp",
    "to_kfp",
}


def test_interop_exports() -> None:
    import headwater.interop

    assert set(headwater.interop.__all__) == INTEROP


SERVING = {
    "DATATYPES",
    "Bound",
    "ServeOptions",
    "ServeSupervisor",
    "parse_model_ref",
    "serve",
    "serve_async",
}


def test_serving_exports() -> None:
    import headwater.serving

    assert set(headwater.serving.__all__) == SERVING
    for name in SERVING:
        assert hasattr(headwater.serving, name), name


def test_errors_exports() -> None:
    assert set(headwater.errors.__all__) == ERRORS


def test_every_exported_name_exists() -> None:
    import headwater.engine
    import headwater.interop
    import headwater.runtime
    import headwater.scheduler
    import headwater.server

    for module in (
        headwater.sdk,
        headwater.spec,
        headwater.errors,
        headwater.store,
        headwater.engine,
        headwater.interop,
        headwater.runtime,
        headwater.scheduler,
        headwater.server,
    ):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_import_headwater_stays_light() -> None:
    code = (
        "import sys, headwater; "
        "heavy = [m for m in ('sqlalchemy', 'fastapi', 'uvicorn', 'ray', 'pydantic', "
        "'headwater.spec', 'croniter', 'yaml', 'typer') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_sdk_loads_user_files_only_when_asked() -> None:
    """The SDK exports its file loader, but loads it on first use: ``import headwater``
    and the task process stay without it (and without importlib.util) until then."""
    code = (
        "import sys, headwater.sdk; "
        "before = 'headwater.sdk._loader' in sys.modules; "
        "from headwater.sdk import load_pipeline; "
        "print(before, load_pipeline.__module__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "headwater.sdk._loader"]


def test_every_headwater_error_is_defined_in_the_errors_module() -> None:
    """One errors module: a HeadwaterError subclass defined anywhere else is a defect."""
    import ast
    from pathlib import Path

    root = Path(headwater.__file__).parent
    known = set(headwater.errors.__all__)
    elsewhere = []
    for path in root.rglob("*.py"):
        if path.name == "errors.py" and path.parent == root:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
                bases |= {b.attr for b in node.bases if isinstance(b, ast.Attribute)}
                if bases & known:
                    elsewhere.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    assert elsewhere == [], "define these in headwater/errors.py: " + ", ".join(elsewhere)
