"""A helper module whose function imports a library, and a module of the project, only
when it is called (tests/pipelines/warm_flow.py)."""


def compute(seed: int) -> int:
    import warm_helper_dep  # a library: the test puts it outside this folder
    import warm_project_dep

    return warm_helper_dep.square(warm_project_dep.identity(seed))
