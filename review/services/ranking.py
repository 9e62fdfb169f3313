"""Ranking a project's records for screening: features, labels, retrain job, freshness.

The algorithms live in screening.ranking (pure code); this module reads the project's records and
decisions, calls them, and writes the scores and ranks back with the model run that made them.
A retrain is split in three steps (load, compute, store) so that the job can release the
database between reading and writing: computing takes the longest and must never hold the lock
reviewers need to record decisions. The feature cache lives in ranking_features, the
freshness shown on the screening page in ranking_status (both re-exported here).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from review.errors import NotFound, ValidationError
from review.jobs import enqueue, handler
from review.models import Decision, Job, ModelRun, Project, Record, Resolution
from review.services.audit import log_event
from review.services.ranking_features import (
    RecordFields,
    bump_records_version,
    cached_features,
    canonical_fields,
    clear_memory_cache,
    fingerprint,
    kept_count,
    record_texts,
    records_version,
    remember,
    store_features,
    stored_embeddings,
    top_or_unranked,
)
from review.services.ranking_status import (
    RankingStatus,
    age_s,
    latest_run,
    ranking_status,
    run_ranker,
)
from screening.ranking import (
    DEFAULT_RANKER,
    FEATURES_VERSION,
    Features,
    available_rankers,
    build_features,
    calibration_sample,
    embeddings_available,
    load_ranker,
    protocol_order,
    rank,
    training_labels,
)
from screening.ranking.embeddings import (
    EMBEDDINGS_VERSION,
    embedding_keys,
    embeddings_reusing,
    stack_embeddings,
)

__all__ = [
    "PROTOCOL_MODEL", "STAGE", "RankingInputs", "RankingResult", "RankingStatus",
    "calibration_order", "clear_memory_cache", "compute_ranking", "latest_run", "load_inputs",
    "project_labels", "rank_demo", "ranker_options", "ranking_status", "records_changed",
    "request_retrain", "retrain", "retrain_job", "store_ranking",
]

STAGE = "title_abstract"
#: A burst of decisions gives one retrain this long after the last of them ...
RETRAIN_DELAY_S = 2.0
#: ... unless the queued retrain has waited this long already (continuous screening).
RETRAIN_MAX_WAIT_S = 30.0
PROTOCOL_MODEL = "protocol"
#: A retrain rewrites the ranks of its top records and of those that were in the top before;
#: the rest keep their older (lower) ranks, reviewers never get that far between retrains ...
RANK_WRITE_TOP = 1000
#: ... every this many retrains the window widens to the top RANK_REFRESH_TOP (bounded: a
#: 100,000-record project never rewrites every row while reviewers wait for SQLite's lock) ...
REFRESH_EVERY = 10
RANK_REFRESH_TOP = 10_000
#: ... and all ranks are rewritten on the first run and whenever the records changed.


@dataclass
class RankingInputs:
    """Everything a retrain reads from the database (plain data, no ORM objects)."""

    project_id: int
    stage: str
    record_ids: np.ndarray  # kept record ids, ascending: row i of the features is record_ids[i]
    fields: list[RecordFields]  # texts, read only when features are built or for the protocol
    fingerprint: str
    features: Features | None  # None: build them (cache missing or stale)
    features_source: str  # "memory", "stored" or "built"
    labels: dict[int, int]  # row -> 0/1
    protocol_text: str
    include_terms: list[str]
    exclude_terms: list[str]
    calibration: dict[str, int] | None
    ranker: str = DEFAULT_RANKER  # the lead's choice, carried forward by the model runs
    recipe: str = FEATURES_VERSION  # EMBEDDINGS_VERSION when the ranker needs embeddings
    # embeddings kept with the stale features (keys, vectors): reused when rebuilding
    known_embeddings: tuple[np.ndarray, np.ndarray] | None = None
    write_top: int | None = None  # rewrite the ranks within this top only; None: all ranks
    # per row: within the top write_top or not ranked, as stored now (those are rewritten)
    old_top: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    partial_writes: int = 0  # retrains since the last full or widened write
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class RankingResult:
    """Scores per row and how they were made."""

    scores: np.ndarray
    model_name: str
    params: dict[str, Any]
    features: Features
    timings: dict[str, float]
    embedding_keys: np.ndarray | None = None  # stored with stacked features


def project_labels(session: Session, *, project_id: int, stage: str = STAGE) -> dict[int, int]:
    """Training label per record id: 1 include, 0 exclude (records with no decision left out).

    An include or maybe by either reviewer counts as include until a lead resolves the record;
    a resolution overrides the reviewers.
    """
    by_record: dict[int, list[str]] = defaultdict(list)
    for rid, label in session.execute(sa.select(Decision.record_id, Decision.label).where(
            Decision.project_id == project_id, Decision.stage == stage)):
        by_record[rid].append(label)
    resolved = dict(session.execute(sa.select(Resolution.record_id, Resolution.label).where(
        Resolution.project_id == project_id, Resolution.stage == stage)).all())
    return training_labels(by_record, resolved)


def load_inputs(
    session: Session, *, project_id: int, stage: str = STAGE,
    calibration: dict[str, int] | None = None, ranker: str | None = None,
) -> RankingInputs:
    """Read what a retrain needs: texts, cached features, labels, protocol, calibration, ranker.

    Args:
        session: database session.
        project_id: the project.
        stage: the screening stage whose decisions are the labels.
        calibration: ``{"size": k, "seed": s}`` to screen a random sample first; None keeps
            the setting of the latest model run; size 0 turns it off.
        ranker: a ranker name (`available_rankers`); None keeps the latest model run's.

    Raises:
        NotFound: if the project does not exist.
        ValidationError: on a bad stage, calibration or ranker (an embedding ranker without
            the optional extra included).
    """
    if stage != STAGE:
        raise ValidationError("ranking orders title/abstract screening only", field="stage")
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    t0 = time.perf_counter()
    # the version first: texts read after it are never older than the key they are stored under
    version = records_version(session, project_id)
    n_kept = kept_count(session, project_id)
    last = latest_run(session, project_id=project_id, stage=stage)
    name, uses_embeddings = _ranker_setting(last, ranker)
    t1 = time.perf_counter()
    by_record = project_labels(session, project_id=project_id, stage=stage)
    t2 = time.perf_counter()
    # only the protocol order (before both classes are labelled) needs the vocabulary, and
    # only a trained ranker that asks for them needs sentence embeddings
    protocol = len(set(by_record.values())) < 2
    recipe = EMBEDDINGS_VERSION if not protocol and uses_embeddings else FEATURES_VERSION
    fp = fingerprint(version, n_kept, recipe)
    feats, ids, source = cached_features(session, project_id, fp, with_vocabulary=protocol,
                                         recipe=recipe)
    fields: list[RecordFields] = []
    if ids is None or protocol:
        # the texts are needed (to build features or for the protocol order): ids and texts
        # from one statement, so that they agree even if records changed since the count
        id_list, fields = canonical_fields(session, project_id)
        read = np.asarray(id_list, dtype=np.int64)
        if ids is None or not np.array_equal(read, ids):
            ids, fp, feats = read, fingerprint(version, read.size, recipe), None
            source = "built"
    known = (stored_embeddings(session, project_id)
             if source == "built" and recipe == EMBEDDINGS_VERSION else None)
    t3 = time.perf_counter()
    partials = int((last.metrics or {}).get("partial_writes", 0)) if last is not None else 0
    same_ranker = last is not None and run_ranker(last) in (name, PROTOCOL_MODEL)
    write_top = (None if not same_ranker or source == "built" else
                 RANK_REFRESH_TOP if partials + 1 >= REFRESH_EVERY else RANK_WRITE_TOP)
    old_top = (np.isin(ids, top_or_unranked(session, project_id, write_top))
               if write_top is not None else np.zeros(0, dtype=bool))
    t4 = time.perf_counter()
    return RankingInputs(
        project_id=project_id, stage=stage, record_ids=ids, fields=fields, fingerprint=fp,
        features=feats, features_source=source, labels=_rows_of(ids, by_record),
        protocol_text="\n".join([project.question, project.inclusion_criteria]),
        include_terms=list(project.include_terms or []),
        exclude_terms=list(project.exclude_terms or []),
        calibration=_calibration_setting(last, calibration),
        ranker=name, recipe=recipe, known_embeddings=known,
        write_top=write_top, old_top=old_top, partial_writes=partials,
        timings={"check_records_s": t1 - t0, "read_labels_s": t2 - t1,
                 "features_cache_s": t3 - t2, "read_top_s": t4 - t3},
    )


def _rows_of(ids: np.ndarray, by_record: dict[int, int]) -> dict[int, int]:
    """Labels by record id -> labels by row (ids sorted); records no longer kept left out."""
    if not by_record or not ids.size:
        return {}
    rids = np.fromiter(by_record.keys(), dtype=np.int64, count=len(by_record))
    rows = np.minimum(np.searchsorted(ids, rids), ids.size - 1)
    found = ids[rows] == rids
    return dict(zip(rows[found].tolist(), np.fromiter(by_record.values(), dtype=np.int64,
                                                       count=len(by_record))[found].tolist(),
                    strict=True))


def _ranker_setting(last: ModelRun | None, given: str | None) -> tuple[str, bool]:
    """The ranker to use and whether it needs sentence embeddings.

    Like the calibration, the lead's choice stays until changed, carried by the model runs.
    """
    name = given or (run_ranker(last) if last is not None else None)
    if not name or name == PROTOCOL_MODEL:
        name = DEFAULT_RANKER
    return name, bool(getattr(_check_ranker(name), "uses_embeddings", False))


def ranker_options() -> list[tuple[str, bool]]:
    """Every registered ranker and whether it can run here (the embedding ones need the extra)."""
    ready = embeddings_available()
    tfidf = set(available_rankers(embeddings=False))
    return [(name, ready or name in tfidf) for name in available_rankers()]


def _calibration_setting(
    last: ModelRun | None, given: dict[str, int] | None
) -> dict[str, int] | None:
    # the schema has no project setting for it: the latest model run carries it forward
    if given is None:
        given = (last.params or {}).get("calibration") if last is not None else None
    if not given or int(given.get("size", 0)) <= 0:
        return None
    size, seed = int(given["size"]), int(given.get("seed", 0))
    if size > 100_000:
        raise ValidationError("the calibration sample is at most 100,000 records", field="size")
    return {"size": size, "seed": seed}


def calibration_order(
    base_scores: np.ndarray, *, size: int, seed: int, labelled: Sequence[int] = ()
) -> np.ndarray:
    """Scores that put a random sample of the records first, in random order.

    The sample's records not yet screened come before everything else; the rest keep the order
    of ``base_scores`` (protocol similarity or the model). Screening a random sample first gives
    an unbiased view of prevalence that a ranked order cannot.

    Args:
        base_scores: one score per record (higher first).
        size: records in the sample.
        seed: the sample and its order are the same for the same seed.
        labelled: rows already screened (they need no place at the top).

    Returns:
        New scores: base scores below every sampled, unscreened record's score.
    """
    n = base_scores.size
    sample = np.asarray(calibration_sample(n, size, seed), dtype=np.int64)
    sample = sample[~np.isin(sample, np.asarray(list(labelled), dtype=np.int64))]
    order = np.random.default_rng(seed).permutation(sample)
    out = np.asarray(base_scores, dtype=np.float64).copy()
    finite = out[np.isfinite(out)]
    top = (finite.max() if finite.size else 0.0) + 1.0
    out[order] = top + np.arange(order.size, 0, -1, dtype=np.float64)
    return out


def compute_ranking(inputs: RankingInputs) -> RankingResult:
    """Score the records: the ranker once both labels exist, the protocol before that.

    Builds the features when the cache had none (the slow step, done once per record change;
    with an embedding ranker, only new or changed records are encoded).
    """
    t0 = time.perf_counter()
    name = inputs.ranker
    both_classes = len(set(inputs.labels.values())) == 2
    texts = record_texts(inputs.fields) if inputs.features is None or not both_classes else []
    feats, keys, timings = inputs.features, None, {}
    if feats is None:
        feats = build_features(texts)
        if inputs.recipe == EMBEDDINGS_VERSION:
            keys = embedding_keys(inputs.record_ids.tolist(), texts)
            known = inputs.known_embeddings or (np.zeros(0, np.int64), np.zeros((0, 0)))
            t_enc = time.perf_counter()
            vectors, n_encoded = embeddings_reusing(texts, keys, *known)
            feats = stack_embeddings(feats, vectors)
            timings = {"encode_s": time.perf_counter() - t_enc, "encoded": float(n_encoded)}
    t1 = time.perf_counter()
    if both_classes:
        model = load_ranker(name, random_state=0)
        scores = rank(feats, inputs.labels, ranker=model)
        params: dict[str, Any] = {k: v for k, v in model.get_params().items()
                                  if isinstance(v, int | float | str | bool | None)}
        model_name = name
    else:
        # before an include and an exclude exist the model has nothing to separate
        scores = protocol_order(texts, inputs.protocol_text, inputs.include_terms,
                                inputs.exclude_terms, features=feats)
        params, model_name = {"include_terms": len(inputs.include_terms),
                              "exclude_terms": len(inputs.exclude_terms)}, PROTOCOL_MODEL
    params["ranker"] = name  # carried forward to the next retrains (see _ranker_setting)
    if inputs.calibration:
        scores = calibration_order(scores, labelled=list(inputs.labels), **inputs.calibration)
        params["calibration"] = inputs.calibration
    t2 = time.perf_counter()
    return RankingResult(scores, model_name, params, feats,
                         {**timings, "features_build_s": t1 - t0, "fit_rank_s": t2 - t1},
                         embedding_keys=keys)


def store_ranking(session: Session, inputs: RankingInputs, result: RankingResult) -> ModelRun:
    """Write scores, ranks and the model run; cache newly built features."""
    t0 = time.perf_counter()
    if inputs.features is None:
        store_features(session, inputs.project_id, inputs.fingerprint, result.features,
                       inputs.record_ids, result.embedding_keys)
    remember(inputs.project_id, inputs.fingerprint, result.features, inputs.record_ids)
    t1 = time.perf_counter()
    n_inc = sum(inputs.labels.values())
    run = ModelRun(project_id=inputs.project_id, stage=inputs.stage,
                   model_name=result.model_name, params=result.params,
                   n_labels=len(inputs.labels), n_included=n_inc, duration_s=0.0, metrics={})
    session.add(run)
    session.flush()
    written = _write_ranks(session, inputs, result.scores, run.id)
    t2 = time.perf_counter()
    timings = {**inputs.timings, **result.timings, "store_features_s": t1 - t0,
               "write_ranks_s": t2 - t1}
    run.duration_s = round(sum(timings.values()), 4)
    run.metrics = {"features": inputs.features_source, "n_records": int(inputs.record_ids.size),
                   "ranks_written": written,
                   "partial_writes": (inputs.partial_writes + 1
                                      if inputs.write_top == RANK_WRITE_TOP else 0),
                   "timings": {k: round(v, 4) for k, v in timings.items()}}
    log_event(session, action="ranking.retrain", object_type="model_run", object_id=run.id,
              project_id=inputs.project_id, user_id=None,
              after={"model": run.model_name, "labels": run.n_labels, "includes": n_inc,
                     "features": inputs.features_source})
    session.flush()
    return run


def _write_ranks(
    session: Session, inputs: RankingInputs, scores: np.ndarray, run_id: int
) -> int:
    """Write scores and ranks; returns how many records were written.

    With ``inputs.write_top`` = K: only the records ranked in the top K now or before (and
    unranked ones), so the top stays exact (ranks 1..K, everything else below K) at a fraction
    of the writes. Rewriting a record rewrites its whole row, abstract included.
    """
    # rank 1 = screen first; ties keep record order (stable sort on ids ascending)
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(order.size, dtype=np.int64)
    ranks[order] = np.arange(1, order.size + 1)
    ids = inputs.record_ids
    if inputs.write_top is not None and inputs.old_top.size == ids.size:
        keep = (ranks <= inputs.write_top) | inputs.old_top
        ids, scores, ranks = ids[keep], scores[keep], ranks[keep]
    _update_ranks(session, ids.tolist(), scores.tolist(), ranks.tolist(), run_id)
    # records merged into another since the last run leave the ranking
    session.execute(sa.update(Record).where(
        Record.project_id == inputs.project_id, Record.canonical_id.is_not(None),
        Record.rank.is_not(None)).values(score=None, rank=None, model_run_id=None)
        .execution_options(synchronize_session=False))
    return int(ids.size)


def _update_ranks(session: Session, ids: list[int], scores: list[float], ranks: list[int],
                  run_id: int) -> None:
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        # one set-based UPDATE from arrays: a single round trip instead of 10,000 statements
        session.execute(sa.text(
            "UPDATE records SET score = v.s, rank = v.r, model_run_id = :run "
            "FROM unnest(CAST(:ids AS integer[]), CAST(:scores AS double precision[]), "
            "CAST(:ranks AS integer[])) AS v(id, s, r) WHERE records.id = v.id"),
            {"ids": ids, "scores": scores, "ranks": ranks, "run": run_id})
        return
    # one executemany on the driver's connection (same transaction): no ORM objects and no
    # per-row parameter processing, about 3x less CPU than SQLAlchemy's executemany here
    driver: Any = session.connection().connection.driver_connection
    driver.executemany(
        "UPDATE records SET score = ?, rank = ?, model_run_id = ? WHERE id = ?",
        zip(scores, ranks, [run_id] * len(ids), ids, strict=True))


def retrain(
    session: Session, *, project_id: int, stage: str = STAGE, ranker: str | None = None,
    calibration: dict[str, int] | None = None,
) -> ModelRun:
    """Retrain the ranking of a project now and write it to its records.

    Args:
        session: database session (flushed, not committed).
        project_id: the project.
        stage: only "title_abstract" is ranked.
        ranker: a registered ranker name (default: the engine's default).
        calibration: ``{"size": k, "seed": s}`` to put a random sample first (see load_inputs).

    Returns:
        The ModelRun, with timings and the features' origin in ``metrics``.

    Raises:
        NotFound: unknown project.
        ValidationError: no records, unknown ranker, bad stage or calibration.
    """
    inputs = load_inputs(session, project_id=project_id, stage=stage, calibration=calibration,
                         ranker=ranker)
    if not inputs.record_ids.size:
        raise ValidationError("the project has no records to rank yet")
    return store_ranking(session, inputs, compute_ranking(inputs))


def _check_ranker(name: str) -> Any:
    # a bad name, or an embedding ranker without the optional extra, fails with the reason
    try:
        return load_ranker(name)
    except ValueError as exc:
        raise ValidationError(str(exc), field="ranker") from exc


@handler("retrain")
def retrain_job(session: Session, job: Job) -> None:
    """The background retrain: read, release the database while computing, then write."""
    params = dict(job.params or {})
    project_id = int(job.project_id or 0)
    inputs = load_inputs(session, project_id=project_id, stage=params.get("stage", STAGE),
                         calibration=params.get("calibration"), ranker=params.get("ranker"))
    if not inputs.record_ids.size:
        return  # nothing imported yet: nothing to rank
    # end the reading transaction: on SQLite a writing session holds the write lock from its
    # first statement, and reviewers recording decisions must not wait for the model
    session.commit()
    result = compute_ranking(inputs)
    store_ranking(session, inputs, result)


def request_retrain(
    session: Session, *, project_id: int, stage: str = STAGE, delay_s: float = RETRAIN_DELAY_S,
    ranker: str | None = None, calibration: dict[str, int] | None = None,
) -> Job | None:
    """Queue a retrain after new decisions; a burst of decisions gives one retrain.

    A retrain already queued is pushed back by ``delay_s``, unless it has waited
    RETRAIN_MAX_WAIT_S already (so steady screening still gets fresh rankings). Full-text
    decisions do not change the title/abstract ranking: nothing is queued for them.

    Returns:
        The queued job, or None for another stage.

    Raises:
        ValidationError: an unknown ranker, or an embedding ranker without the extra.
    """
    if stage != STAGE:
        return None
    queued = session.scalar(sa.select(Job).where(
        Job.kind == "retrain", Job.project_id == project_id, Job.status == "queued"))
    if queued is not None and age_s(queued.created_at) > RETRAIN_MAX_WAIT_S:
        return queued
    # a lead's explicit choice (ranker, calibration) survives the decisions queued after it
    params: dict[str, Any] = dict(queued.params or {}) if queued is not None else {}
    params["stage"] = STAGE
    if ranker:
        _check_ranker(ranker)  # refused now, with the reason, not in the background job
        params["ranker"] = ranker
    if calibration is not None:
        params["calibration"] = calibration
    return enqueue(session, kind="retrain", project_id=project_id, params=params,
                   delay_s=delay_s, debounce=True)


def records_changed(session: Session, *, project_id: int) -> Job | None:
    """Record texts or duplicate groups changed: mark the features stale and queue a retrain.

    The services that add, merge, split or edit records call this in the same transaction
    (the features are keyed by the project's records version and its kept record ids).
    """
    bump_records_version(session, project_id)
    return request_retrain(session, project_id=project_id)


def rank_demo(session: Session, project: Project, users: dict[str, Any]) -> None:
    """The demo's ranking step: rank the imported records so the demo opens ranked."""
    if canonical_fields(session, project.id)[0]:
        retrain(session, project_id=project.id)
