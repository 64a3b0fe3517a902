"""The sections that say how a run is carried out, not what it trains: how fast each step runs (speed), what
it records and when (log), what it measures while it trains (eval), and what happens when it fails (guard).

They are apart from :mod:`ganforge.config.schema` so that the schema module stays one readable page of
the model's own settings (data, networks, losses, regularisers, optimisers, schedule); ``schema``
re-exports them and ``RunConfig`` holds them as before. Each section has the shape of the others (a
comment, then ``name: type = default``), the deliberate mirror a copy finder reports as repeated lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SpeedConfig:
    """How fast a step runs, never what it computes (bf16 changes only its rounding).

    "auto" turns a switch on where it pays: on a CUDA GPU. On the CPU every switch but the CUDA
    flags tf32 and cudnn_benchmark can be forced on, which is how the tests check each one against
    the plain path. A switch forced on (true) where it cannot act is refused when the run is built:
    tf32 or cudnn_benchmark off CUDA, channels_last on data that is not images.
    """

    # Matrix precision inside G and D: "fp32", or "bf16" autocast (weights, optimiser state and
    # losses stay fp32). auto: bf16 on a bf16 CUDA GPU if any net has convolutions, else fp32 (speed.py).
    precision: str = "auto"
    # channels_last memory layout for image nets and batches (what tensor-core convolutions read).
    # auto: on for image data on CUDA; true on points or tables is refused.
    channels_last: bool | str = "auto"
    # Optimiser kernels: "fused" (one kernel for all parameters, Adam and SGD), "foreach" (batched
    # ops), or "for-loop" (one parameter at a time, the reference). auto: fused on CUDA where the
    # optimiser has it, else foreach on CUDA, for-loop on the CPU.
    optimizer: str = "auto"
    # torch.compile G's forward and D's features/head: false, or a mode: "default", "reduce-overhead"
    # (adds CUDA graphs) or "max-autotune". Off by default: compiling costs a minute at start-up and
    # has not been measured against eager on a GPU here. If compiling fails, training goes on eagerly.
    compile: bool | str = False
    # TF32 matmuls/convolutions for fp32 work on Ampere+ GPUs. auto: on for CUDA; true off CUDA is refused.
    tf32: bool | str = "auto"
    # cudnn.benchmark: time the convolution algorithms once per shape and keep the fastest. auto: on for
    # CUDA; true off CUDA is refused.
    cudnn_benchmark: bool | str = "auto"
    # Capture each whole update (forward, backward, optimiser step; EMA; lazy R1) as a CUDA graph and
    # replay it: one launch per update instead of hundreds (issue 16 measured the GPU idle 58-89% of a
    # step waiting for Python and launches). Off by default; "auto" (on for CUDA) in the presets where
    # the H100 check measured it winning (dcgan-mnist 2.94x and gan2014-mnist 8.48x the plain loop,
    # docs/benchmarks.md section 12) and their children; true or auto opt in elsewhere. A part that
    # cannot be captured (DDP, per-step host values) runs eagerly with one warning. true on the CPU
    # runs the same static-buffer step eagerly (how the tests check it).
    graphs: bool | str = False


@dataclass
class LogConfig:
    """The ``log`` section: how often the loop writes statistics, sample grids and checkpoints, and the
    collapse monitor's batch; read by the loop (:mod:`ganforge.engine.loop`, :mod:`ganforge.engine.periodic`).
    """

    # Losses and D outputs go to stats.jsonl, TensorBoard and the progress bar every N steps
    # (values are gathered from the device only then, so the hot loop never waits on it).
    every: int = 100
    # A sample grid from a fixed z is written every N steps (and at the end).
    sample_every: int = 1000
    # Samples in each grid (a square number fills the grid).
    sample_count: int = 100
    # A checkpoint is written every N steps (and at the end).
    checkpoint_every: int = 1000
    # Older checkpoints beyond this many are deleted.
    keep_checkpoints: int = 3
    # Write TensorBoard event files under tb/.
    tensorboard: bool = True
    # Show a progress bar (also off automatically when stderr is not a terminal).
    progress: bool = True
    # The collapse monitor (training/monitor.py), at every log step for recipes with a G(z): this many
    # fixed z and as many fixed real samples through D's features give diversity_dfeat (their spread
    # ratio: ~1 healthy, -> 0 collapse) in stats.jsonl and the progress line. 0 = off. 128 gives 8,128
    # pairs, a steady mean, for one forward pass of G and two of D's features per log step.
    diversity_n: int = 128
    # Also read the fixed batch with the dataset's judge (mnist, digits, cifar10...; trained on first use,
    # about 100 s for LeNet): diversity_judge and top_class_share. Off by default for that cost; D's
    # features miss a G that draws one class in many styles, which top_class_share shows (docs/metrics.md).
    diversity_judge: bool = False


@dataclass
class EvalConfig:
    """The ``eval`` section: metrics measured while training and how often; read by
    :mod:`ganforge.engine.periodic`, which keeps the best checkpoint by the first directed metric.
    """

    # Evaluate during training every N steps: metrics go to stats.jsonl and TensorBoard, and the
    # checkpoint that scores best on the first directed metric (Parzen's last) is kept in checkpoints/best.
    # A name without a split is measured against valid (else train), and a test-split first metric is
    # refused: the test split is for the figures reported after training. 0 = off.
    every: int = 0
    # Metric names or families, e.g. [fid, pr] or [modes2500_3std]; empty = the dataset's defaults
    # (see `ganforge eval --list-metrics`).
    metrics: list[str] = field(default_factory=list)
    # Samples per evaluation for metrics whose name gives no count; null = each protocol's default.
    n: int | None = None


@dataclass
class GuardConfig:
    """The ``guard`` section: what counts as divergence or collapse and whether the run stops or rolls back;
    read by :class:`~ganforge.engine.guard.DivergenceGuard` and :mod:`ganforge.engine.rollback`.
    """

    # What happens when a loss or weight becomes NaN/inf, or the collapse signal below fires:
    # "stop" ends the run with a message (the last good checkpoint stays); "rollback" reloads the
    # last good checkpoint and retries with the changes below.
    action: str = "stop"
    # With rollback: retries before the run stops for good.
    max_retries: int = 3
    # With rollback: both learning rates are multiplied by this at each retry (1 = unchanged).
    lr_factor: float = 0.5
    # With rollback: draw new noise and dropout streams at each retry, so the retry differs.
    reseed: bool = True
    # Collapse signal: fires when mean D(G(z)) < collapse_d_fake and the D loss < collapse_d_loss
    # over collapse_steps consecutive steps (checked at log intervals). null disables it: a
    # healthy run can pass through such phases, so the threshold is the user's call.
    collapse_d_fake: float | None = None
    collapse_d_loss: float = 0.05
    collapse_steps: int = 2000
    # Diversity collapse: a one-line warning when the monitor's diversity_dfeat (log.diversity_n) falls
    # below this. 0.2: runs with several classes read 0.68-1.0 after a few hundred steps, a G drawing one
    # image reads 0, one digit in many styles 0.34-1.16 (so read top_class_share for that; docs/metrics.md).
    collapse_diversity: float = 0.2
    # Steps before diversity_dfeat is judged (it is logged from the start): a fresh G's samples are nearly
    # alike by construction (DCGAN's N(0, 0.02) init and the 2014 G's start at the data mean read
    # 0.004-0.09 at the first log step) and spread over the first few hundred steps.
    diversity_warmup: int = 500
    # Also act on it (guard.action: stop or roll back) once it has stayed below for collapse_steps
    # steps. Off by default: a run can pass through a narrow phase and recover.
    stop_on_diversity: bool = False
