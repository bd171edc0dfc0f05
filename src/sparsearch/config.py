"""The experiment schema: TOML in, validated pydantic models out.

Every error a user can cause here is raised as `SparsearchError` with one line naming the
field and what is allowed.
"""

from __future__ import annotations

import math
import re
import sys
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .engine.memory import GB, physical_memory
from .engine.threads import MAX_THREADS, ThreadChoice, choose_threads
from .errors import SparsearchError
from .reading import read_capped

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

Model = TypeVar("Model", bound=BaseModel)

MAX_SEEDS = 10_000

MOVED = {
    **{key: "[arms.random_search]" for key in ("candidates", "probe", "probe_steps")},
    "rewind": "[arms.magnitude]",
    **{key: "[arms.lottery]" for key in ("rewind_epoch", "prune_rate")},
    "gmp_start": "[arms.gmp] start", "gmp_end": "[arms.gmp] end", "gmp_events": "[arms.gmp] events",
    "synflow_iterations": "[arms.synflow] iterations",
    "shuffle_of": "[arms.shuffle] of",
    **{key: "[supernet]" for key in ("widths", "strategies", "evaluations", "objectives", "search_population",
                                     "predictor", "latency_batch", "retrain")},
}
"""Keys of the old flat `[search]` table and where each lives now."""


def distinct(names: list[str], what: str) -> list[str]:
    """`names`, refused (a validator's ValueError) if one is listed twice."""
    if len(set(names)) != len(names):
        raise ValueError(f"{what} must be distinct, got {names}")
    return names


class _Section(BaseModel):
    # strict: `seeds = true` or `lr = "0.1"` is refused, not read as 1 or 0.1; no inf or nan anywhere
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ExperimentConfig(_Section):
    """What is run: its name in the store, how many seeds, which kind of experiment."""

    name: str = Field("digits-node-search", min_length=1, description="the experiment's name in the store")
    seeds: int | list[int] = Field(10, description="seeds 0..N-1, or a list of seeds; arms are compared paired by seed")
    kind: str = Field(
        "mask", min_length=1,
        description="mask: arms choose masks, trained and compared; supernet: sub-network search; or a registered kind",
    )

    @field_validator("seeds", mode="before")
    @classmethod
    def _count_or_list(cls, seeds: object) -> object:
        def whole(n: object) -> bool:
            return isinstance(n, int) and not isinstance(n, bool)

        if isinstance(seeds, list):
            if not 1 <= len(seeds) <= MAX_SEEDS or not all(whole(s) and s >= 0 for s in seeds):
                raise ValueError(f"a list of seeds must hold 1 to {MAX_SEEDS} non-negative integers, got {seeds!r}")
            if len(set(seeds)) != len(seeds):
                raise ValueError(f"seeds must be distinct, got {seeds!r}")
        elif not (whole(seeds) and 1 <= seeds <= MAX_SEEDS):
            raise ValueError(f"must be a count from 1 to {MAX_SEEDS} or a list of seeds, got {seeds!r}")
        return seeds

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The seeds run, in order: 0..N-1 for a count N, else the listed ones sorted. A seed's
        trials are the same whichever way it is named (`seeds = 8` includes `seeds = [3, 7]`)."""
        return tuple(range(self.seeds)) if isinstance(self.seeds, int) else tuple(sorted(self.seeds))


class DataConfig(_Section):
    """The dataset and its split."""

    name: str = Field("digits", min_length=1, description="a registered dataset (sparsearch.register_dataset)")
    seed: int = Field(0, ge=0, description="fixes the train/val/test split")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="share of the training examples held out for validation")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="only for datasets without an official test split")
    samples: int | None = Field(None, ge=20, description="mnist1d and synthetic: how many examples to generate")
    root: str | None = Field(None, description="folder holding mnist, fashion_mnist or cifar10 files")
    download: bool = Field(False, description="fetch missing mnist/fashion_mnist/cifar10 files (needs sparsearch[torchvision])")
    augment: list[Literal["crop", "flip"]] = Field(
        default_factory=list, description="images: training batches randomly cropped (zero padding of a side/8 px) "
        "and/or flipped horizontally, drawn per seed")

    @field_validator("augment")
    @classmethod
    def _distinct_augmentations(cls, augment: list[str]) -> list[str]:
        if len(set(augment)) != len(augment):
            raise ValueError(f"augmentations must be distinct, got {augment}")
        return augment


class ParentConfig(_Section):
    """The over-parameterized parent network. Keys beyond these fields are a parent kind's own
    settings (e.g. vit's `dim`): kept as extras here and validated by the kind before the data
    loads (`nets.kind_settings`), which refuses them for a kind that owns none."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field("mlp", min_length=1, description="a registered parent kind (sparsearch.register_parent)")
    hidden: list[int] = Field(default_factory=lambda: [300, 100], min_length=1, description="mlp: hidden layer widths")
    channels: list[int] | None = Field(None, min_length=1, description="conv kinds: channels of each stage (none: "
                                       "the published architecture's)")

    @field_validator("hidden", "channels")
    @classmethod
    def _positive_widths(cls, widths: list[int] | None) -> list[int] | None:
        for width in widths or []:
            if width < 1:
                raise ValueError(f"every width must be at least 1, got {width}")
        return widths


class TrainConfig(_Section):
    """The training recipe every network of the experiment follows."""

    epochs: int = Field(30, ge=1, description="epochs every network trains")
    batch_size: int = Field(64, ge=1, description="examples per step")
    optimizer: Literal["sgd", "adam", "adamw"] = Field(
        "sgd", description="sgd (with momentum), adam, or adamw (decoupled weight decay)")
    lr: float = Field(0.05, gt=0, description="the base learning rate (the schedule scales it)")
    momentum: float = Field(0.9, ge=0, lt=1, description="sgd momentum")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (adamw: decoupled decay)")
    nesterov: bool = Field(False, description="sgd: Nesterov momentum")
    schedule: Literal["constant", "step", "cosine"] = Field(
        "constant", description="learning rate per epoch: constant, step (times gamma at each milestone) or cosine "
        "(annealed to 0 over the epochs)")
    milestones: list[int] = Field(default_factory=list, description="step: epochs after which the rate is multiplied "
                                  "by gamma")
    gamma: float = Field(0.1, gt=0, le=1, description="step: the factor at each milestone")
    warmup_epochs: int = Field(0, ge=0, description="linear warmup over the first epochs' steps (0: none)")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="share of the target spread over all classes")

    KEYED_WHEN_SET: ClassVar[tuple[str, ...]] = ("nesterov", "schedule", "milestones", "gamma", "warmup_epochs",
                                                "label_smoothing")
    """Settings newer than the pinned trial keys: a key records them only when they differ from
    their defaults, so every earlier recipe keeps its key."""

    @model_validator(mode="after")
    def _consistent(self):
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError(f"nesterov = true needs optimizer = 'sgd' with momentum above 0, got optimizer = "
                             f"{self.optimizer!r}, momentum = {self.momentum}")
        if self.schedule == "step" and not self.milestones:
            raise ValueError("schedule = 'step' needs milestones (epochs after which the rate drops), got none")
        if self.milestones and self.schedule != "step":
            raise ValueError(f"milestones {self.milestones} are for schedule = 'step', got schedule = {self.schedule!r}")
        if self.milestones != sorted(set(self.milestones)) or not all(0 < m < self.epochs for m in self.milestones):
            raise ValueError(f"milestones must increase strictly, each from 1 to epochs - 1 = {self.epochs - 1}, "
                             f"got {self.milestones}")
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs must be below epochs = {self.epochs}, got {self.warmup_epochs}")
        return self

    def keyed(self) -> dict:
        """The recipe as trial keys record it: every setting, less the newer ones at their defaults."""
        fields = self.model_dump()
        defaults = TrainConfig.model_fields
        return {k: v for k, v in fields.items()
                if k not in self.KEYED_WHEN_SET or v != defaults[k].get_default(call_default_factory=True)}


class SearchConfig(_Section):
    """What every arm of a mask study shares; each arm's own settings live in `[arms.NAME]`."""

    space: Literal["node", "weight"] = Field("node", description="node: remove units; weight: remove single weights")
    sparsities: list[float] = Field(default_factory=lambda: [0.5, 0.75, 0.9, 0.95], min_length=1,
                                   description="fractions of the space removed, each in [0, 1)")
    arms: list[str] = Field(default_factory=lambda: ["dense", "random", "random_search"], min_length=1,
                            description="registered arms to compare (sparsearch.register_arm); settings in [arms.NAME]")
    probe_batch: int = Field(256, ge=1, description="training examples scored by probes, snip and grasp")
    allocation: Literal["global", "uniform", "erk"] = Field(
        "global", description="weight space: how the sparsity is spread over layers")

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, raw):
        if isinstance(raw, dict):
            if raw.get("space") == "elastic":
                raise ValueError('space "elastic" is now [experiment] kind = "supernet"')
            for key in raw:
                if key in MOVED:
                    where = MOVED[key] if " " in MOVED[key] else f"{MOVED[key]} {key}"
                    raise ValueError(f"{key!r} moved to {where} (arms and the super-network own their settings)")
        return raw

    @field_validator("sparsities")
    @classmethod
    def _sparsities_in_range(cls, sparsities: list[float]) -> list[float]:
        for s in sparsities:
            if not 0 <= s < 1:
                raise ValueError(f"every sparsity must be in [0, 1), got {s}")
        if len(set(sparsities)) != len(sparsities):
            raise ValueError(f"sparsities must be distinct, got {sparsities}")
        return sorted(sparsities)

    @field_validator("arms")
    @classmethod
    def _distinct_arms(cls, arms: list[str]) -> list[str]:
        return distinct(arms, "arms")


RAY_ADDRESS = re.compile(r"auto|(ray://)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])")
"""A Ray cluster address: auto, or HOST:PORT (an IPv6 host in brackets) with ray:// for Ray Client."""


class EngineConfig(_Section):
    """How populations are trained: grouping, memory, threads, precision, where."""

    max_population: int = Field(256, ge=1, description="most networks grouped into one population")
    max_memory_gb: float = Field(default_factory=lambda: min(4.0, physical_memory() / GB), gt=0,
                                 description="memory budget of one batched program (4, or the machine's memory if less)")
    threads: int | Literal["auto"] = Field(
        "auto", description="torch intra-op threads, or auto: the cores available to this process less those other "
        "work keeps busy (measured as the run starts; run prints it), at least 1")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="fp32, or bf16 mixed precision (fp32 master weights; fast with AMX or AVX512-BF16)")
    executor: Literal["in-process", "ray"] = Field(
        "in-process", description="where populations train: here, or as Ray tasks (needs the `ray` extra)")
    address: str | None = Field(None, min_length=1, description="ray: the cluster to join (e.g. 'HOST:6379'); "
                                "none starts a local Ray instance")
    retries: int = Field(3, ge=0, description="ray: how often a task whose worker died is retried")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="where training, probes and the super-network compute: auto (CUDA if present, else "
        "MPS if present, else the CPU), cpu, cuda or mps (docs/devices.md)")

    @field_validator("max_memory_gb")
    @classmethod
    def _within_machine(cls, gb: float) -> float:
        if gb * GB > physical_memory():
            raise ValueError(f"{gb} GB is more than this machine's {physical_memory() / GB:.3g} GB of memory; "
                             f"use at most that")
        return gb

    @field_validator("address")
    @classmethod
    def _ray_address(cls, address: str | None) -> str | None:
        if address is not None and not RAY_ADDRESS.fullmatch(address):
            raise ValueError(f"must be HOST:PORT (e.g. '10.0.0.5:6379'), ray://HOST:PORT or 'auto', got {address!r}")
        return address

    @field_validator("threads", mode="before")
    @classmethod
    def _thread_count(cls, threads: object) -> object:
        is_count = isinstance(threads, int) and not isinstance(threads, bool) and 1 <= threads <= MAX_THREADS
        if threads != "auto" and not is_count:
            raise ValueError(f"must be \"auto\" or a count from 1 to {MAX_THREADS}, got {threads!r}")
        return threads

    @cached_property
    def thread_choice(self) -> ThreadChoice:
        """How many threads this run uses and why (chosen once per config)."""
        return choose_threads(self.threads)

    @model_validator(mode="after")
    def _address_for_ray(self):
        if self.address is not None and self.executor != "ray":
            raise ValueError(f"address {self.address!r} is for executor = 'ray', got executor = {self.executor!r}")
        return self

    @property
    def max_memory(self) -> int:
        return int(self.max_memory_gb * GB)


class SupernetConfig(_Section):
    """The super-network search (`[experiment] kind = "supernet"`): training and search settings."""

    epochs: int = Field(30, ge=1)
    sandwich: int = Field(2, ge=0, description="random sub-networks per step besides the largest and smallest")
    distill: bool = Field(True, description="in-place distillation from the largest sub-network (BigNAS)")
    largest_weight: float | Literal["students"] = Field(
        "students", description="weight of the largest sub-network's loss, each student's being 1: students (as "
        "much as all sandwich + 1 students together) or a positive number (1: BigNAS's plain sum)")
    widths: list[float] = Field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0], min_length=1,
                                description="width choices as fractions of each node group")
    strategies: list[Literal["random", "nsga2", "linas"]] = Field(default_factory=lambda: ["random", "nsga2", "linas"],
                                                                 min_length=1)
    evaluations: int = Field(200, ge=2, description="real (inherited-weight) evaluations per search")
    objectives: list[Literal["params", "flops", "latency"]] = Field(default_factory=lambda: ["params"], min_length=1)
    search_population: int = Field(20, ge=2, description="configurations per generation / round")
    predictor: Literal["ridge", "mlp"] = "ridge"
    latency_batch: int = Field(1, ge=1)
    retrain: int = Field(5, ge=0, description="front configurations retrained from scratch per seed")
    depths: list[int] | None = Field(None, min_length=1, description="blocks kept per stage (resnet20 and vit "
                                     "parents): elastic depth, e.g. [1, 2, 3]; unset: every block")
    sort_channels: bool = Field(False, description="after every epoch, reorder each node group's units by the L1 "
                                "norm of their incoming weights, most important first (Once-for-All)")

    def keyed(self) -> dict:
        """The settings as super-network keys record them: every one, less `largest_weight = 1` (the
        training before the setting existed), `depths` when unset and `sort_channels` when off, so
        super-networks stored before those settings existed keep their keys."""
        fields = self.model_dump()
        if fields["largest_weight"] == 1:
            del fields["largest_weight"]
        if fields["depths"] is None:
            del fields["depths"]
        if not fields["sort_channels"]:
            del fields["sort_channels"]
        return fields

    @field_validator("largest_weight", mode="before")
    @classmethod
    def _students_or_positive(cls, value: object) -> object:
        if value != "students" and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf):
            raise ValueError(f'must be "students" or a positive number, got {value!r}')
        return value

    @field_validator("widths")
    @classmethod
    def _fractions(cls, widths: list[float]) -> list[float]:
        for w in widths:
            if not 0 < w <= 1:
                raise ValueError(f"every width must be a fraction in (0, 1], got {w}")
        return sorted(set(widths))

    @field_validator("depths")
    @classmethod
    def _depths(cls, depths: list[int] | None) -> list[int] | None:
        return None if depths is None else sorted(set(depths))


AUTO_WEIGHTS_BYTES = 2**20
"""`save_weights = "auto"` keeps the weights of networks whose state dict takes at most this
(the default digits MLP's 0.19 MiB; not a dense resnet20's 1.03 MiB nor a conv6's 8.6 MiB)."""


class StoreConfig(_Section):
    """What the store keeps besides metrics and curves."""

    save_weights: bool | Literal["auto"] = Field(
        "auto", description="keep every trained network's weights, final and best-validation (safetensors): true, "
        f"false, or auto: those of networks whose state dict takes at most {AUTO_WEIGHTS_BYTES // 2**20} MiB")

    @field_validator("save_weights", mode="before")
    @classmethod
    def _auto_or_bool(cls, value: object) -> object:
        if value != "auto" and not isinstance(value, bool):
            raise ValueError(f'must be true, false or "auto", got {value!r}')
        return value


class MeasureConfig(_Section):
    """Measured speed: every trial's network timed on the run's device (docs/method.md)."""

    latency: bool = Field(False, description="time every trial's network after training (also: `sparsearch measure`)")
    batch_size: int = Field(256, ge=1, le=1_000_000, description="the throughput batch (batch 1 is timed too)")
    warmup: int = Field(10, ge=0, le=100_000, description="untimed calls before the timed ones")
    repeats: int = Field(50, ge=1, le=100_000, description="timed samples; their median and interquartile range are kept")
    kernel: Literal["torch", "onnxruntime"] = Field(
        "torch", description="torch: the fastest of the network's torch kernels (compacted; masked dense, CSR, 2:4 on "
        "CUDA); onnxruntime: the exported network in ONNX Runtime (the onnx extra)")


class LogConfig(_Section):
    """Experiment tracking: where a mask study also logs its trials (never what it computes; docs/api.md)."""

    tensorboard: str | None = Field(None, min_length=1, description="folder for TensorBoard event files, one run "
                                    "folder per experiment (the tensorboard extra)")
    mlflow: bool = Field(False, description="log to MLflow: a run per sparsearch run, a nested run per trial "
                         "(the mlflow extra)")
    mlflow_uri: str | None = Field(None, min_length=1, description="mlflow: the tracking URI (none: "
                                   "MLFLOW_TRACKING_URI, else MLflow's default)")
    mlflow_experiment: str | None = Field(None, min_length=1, description="mlflow: the MLflow experiment (none: "
                                          "[experiment] name)")
    loggers: list[str] = Field(default_factory=list, description="loggers registered with sparsearch.register_logger "
                               "(e.g. for Weights & Biases) that receive the trials too")

    @model_validator(mode="after")
    def _mlflow_settings(self):
        for key in ("mlflow_uri", "mlflow_experiment"):
            if getattr(self, key) is not None and not self.mlflow:
                raise ValueError(f"{key} {getattr(self, key)!r} is for mlflow = true, got mlflow = false")
        return self

    @field_validator("loggers")
    @classmethod
    def _distinct_loggers(cls, loggers: list[str]) -> list[str]:
        return distinct(loggers, "loggers")


class Config(_Section):
    experiment: ExperimentConfig = Field(default_factory=ExperimentConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    parent: ParentConfig = Field(default_factory=ParentConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    arms: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="[arms.NAME]: an arm's own settings (validated by the arm)"
    )
    engine: EngineConfig = Field(default_factory=EngineConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    measure: MeasureConfig = Field(default_factory=MeasureConfig)
    supernet: SupernetConfig = Field(default_factory=SupernetConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    kinds: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="[kinds.NAME]: a registered experiment kind's own settings (validated by it)"
    )


def _one_line(error: ValidationError, source: str, within: str = "") -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in (*([within] if within else []), *first["loc"]))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key; check the spelling against `sparsearch config --default`"
    if first["type"] == "literal_error":
        message = message.replace("Input should be", "allowed:")
    if first["type"] not in ("extra_forbidden", "value_error") and not isinstance(first.get("input"), dict):
        message = f"{message}, got {first.get('input')!r}"  # own messages (value_error) quote it already
    where = f"{source}: " if source else ""
    return f"{where}{field}: {message}" if field else f"{where}{message}"


def validated(model: type[Model], raw: dict, source: str = "", within: str = "") -> Model:
    """`raw` validated as `model` (a Config or one of its sections); raise SparsearchError with
    one line on failure, prefixed by `source`, its field named under `within` (a section, e.g.
    "parent", for a model of that section's keys)."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise SparsearchError(_one_line(error, source, within)) from None


def config_from_dict(raw: dict, source: str = "") -> Config:
    """Validate a parsed TOML document; raise SparsearchError with one line on failure."""
    return validated(Config, raw, source)


def with_engine(config: Config, **changes) -> Config:
    """`config` with `[engine]` settings changed (those not None), validated like the file's.
    An `address` without an `executor` means the Ray executor (an address names a cluster)."""
    if changes.get("address") is not None and changes.get("executor") is None:
        changes["executor"] = "ray"
    return with_settings(config, "engine", **changes)


def with_settings(config: Config, section: str, **changes) -> Config:
    """`config` with settings of `[section]` changed (those not None), validated like the file's."""
    changes = {key: value for key, value in changes.items() if value is not None}
    if not changes:
        return config
    return config_from_dict({**config.model_dump(), section: {**getattr(config, section).model_dump(), **changes}})


CONFIG_CAP = 2**20
"""Bytes a config file may hold: the longest useful one is a few kilobytes."""


def config_as_run(stored_toml: str) -> Config:
    """A config a store kept (TOML) as it ran: a supernet experiment stored before `[supernet]
    largest_weight` existed trained with equal loss weights (1; the default since: "students")."""
    raw = tomllib.loads(stored_toml)
    if raw.get("experiment", {}).get("kind") == "supernet":
        raw.setdefault("supernet", {}).setdefault("largest_weight", 1)
    return config_from_dict(raw)


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file (a regular file of at most CONFIG_CAP bytes)."""
    path = Path(path)
    try:
        text = read_capped(path, "config file", CONFIG_CAP).decode("utf-8")
    except UnicodeDecodeError as error:
        raise SparsearchError(f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
                              f"{error.start}); save the config as UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SparsearchError(f"{path}: not valid TOML ({error})") from None
    except RecursionError:
        raise SparsearchError(f"{path}: arrays or tables nested too deeply to read; a config nests a few "
                              f"levels at most") from None
    if not raw:
        raise SparsearchError(f"{path} sets nothing; omit the config to run the built-in default, "
                              f"or start from `sparsearch config --default`")
    return config_from_dict(raw, source=str(path))


QUICK_EPOCHS = 5
QUICK_SUFFIX = "-quick"


def quick(config: Config) -> Config:
    """The smoke-run version of a config: at most 3 seeds, QUICK_EPOCHS epochs (training and
    super-network) and two generations of search evaluations. Arms shrink their own settings
    (`Arm.quick`)."""
    return config.model_copy(
        update={
            "experiment": config.experiment.model_copy(
                update={"seeds": list(config.experiment.seed_list[:3]) if isinstance(config.experiment.seeds, list)
                        else min(config.experiment.seeds, 3), "name": config.experiment.name + QUICK_SUFFIX}
            ),
            "train": config.train.model_copy(update={"epochs": min(config.train.epochs, QUICK_EPOCHS)}),
            "supernet": config.supernet.model_copy(update={
                "epochs": min(config.supernet.epochs, QUICK_EPOCHS),
                "evaluations": min(config.supernet.evaluations, 2 * config.supernet.search_population),
            }),
        }
    )


def quick_note(name: str, epochs: int) -> str | None:
    """What the tables of a `quick` run (its name ends in QUICK_SUFFIX, it trained at most
    QUICK_EPOCHS epochs) say of themselves; None for any other run."""
    if name.endswith(QUICK_SUFFIX) and epochs <= QUICK_EPOCHS:
        return f"quick run: {epochs} epochs, accuracies not comparable to full runs"
    return None


def to_toml(config: Config) -> str:
    """The config as a TOML document (round-trips through load_config)."""
    import tomli_w

    return tomli_w.dumps(config.model_dump(exclude_none=True))


def annotated_toml(config: Config) -> str:
    """The config as TOML with every section and key explained in comments (what `sparsearch
    config` prints: a starting point to edit); unset optional keys appear commented out."""
    import tomli_w

    lines = []
    for section, info in Config.model_fields.items():
        value = getattr(config, section)
        if isinstance(value, BaseModel):
            lines += [f"# {(type(value).__doc__ or section).strip().splitlines()[0]}", f"[{section}]"]
            for key, field in type(value).model_fields.items():
                setting = getattr(value, key)
                lines += [f"# {field.description}"] if field.description else []
                lines.append(f"# {key} = (unset)" if setting is None else tomli_w.dumps({key: setting}).rstrip())
            if value.model_extra:
                lines += [f"# the {section} kind's own settings", tomli_w.dumps(value.model_extra).rstrip()]
        else:  # [arms.NAME] tables
            lines += [f"# {info.description}", tomli_w.dumps({section: value}).rstrip()]
        lines.append("")
    return "\n".join(lines)
