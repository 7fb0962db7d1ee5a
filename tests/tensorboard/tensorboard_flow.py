"""Pipelines whose tasks log step-wise metrics and write TensorBoardLogs, for the
TensorBoard tests."""

from __future__ import annotations

from headwater import (
    Metrics,
    Output,
    ParallelFor,
    TensorBoardLogs,
    component,
    pipeline,
)

STEPS = 6


def loss_at(step: int, lr: float) -> float:
    """The loss ``train`` logs at ``step``: values that float32 cannot hold exactly."""
    return round(lr / (step + 1) + 0.1, 6)


class ProfilerLogs(TensorBoardLogs):
    """A user's own kind of TensorBoardLogs."""

    schema_title = "tests.ProfilerLogs"


@component
def train(lr: float, metrics: Output[Metrics], logs: Output[TensorBoardLogs]) -> float:
    """Step-wise loss; accuracy once, without a step; event files of its own in ``logs``."""
    from tensorboard.summary import Writer

    writer = Writer(logs.path)
    loss = 0.0
    for step in range(STEPS):
        loss = loss_at(step, lr)
        metrics.log_metric("loss", loss, step=step)
        writer.add_scalar("own/grad_norm", 10.0 * loss, step)
    metrics.log_metric("accuracy", 1.0 - loss)
    writer.close()
    return loss


@component
def unstepped(metrics: Output[Metrics], extra: Output[Metrics]) -> None:
    """Values without a step, a step logged out of order, and a key logged through two
    outputs."""
    for value in (0.5, 0.25, 0.125):
        metrics.log_metric("lr", value)  # no step: 0, 1, 2
    metrics.log_metric("epoch_loss", 3.0, step=10)
    metrics.log_metric("epoch_loss", 2.0)  # no step after step 10: 11
    metrics.log_metric("epoch_loss", 4.0, step=5)  # out of order
    metrics.log_metric("score", 1.0)
    extra.log_metric("score", 2.0, step=3)


@component
def quiet(x: int) -> int:
    """Logs nothing."""
    return x + 1


@component
def profile(logs: Output[ProfilerLogs]) -> None:
    """TensorBoardLogs of a user's subtype, in nested folders."""
    import os

    from tensorboard.summary import Writer

    for phase in ("train", "validation"):
        writer = Writer(os.path.join(logs.path, phase))
        for step in range(3):
            writer.add_scalar("phase_time", float(step + (phase == "validation")), step)
        writer.close()


@pipeline
def tb_train(lr: float = 0.5):
    train(lr=lr)


@pipeline
def tb_sweep():
    with ParallelFor([0.1, 0.2]) as lr:
        train(lr=lr)


@pipeline
def tb_unstepped():
    unstepped()


@pipeline
def tb_quiet(x: int = 1):
    quiet(x=x)


@pipeline
def tb_profile():
    profile()
