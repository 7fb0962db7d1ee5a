"""A helper module whose function imports a library only when it is called."""


def compute(seed: int) -> int:
    import warm_helper_dep

    return warm_helper_dep.square(seed)
