"""`sieve simulate`, `sieve rank`, `sieve stopping`, `sieve stop` and `sieve undo-stop`."""

from __future__ import annotations

import csv
from pathlib import Path

import click

from review.services import ranking as ranking_service
from review.services import stopping as stopping_service
from review.services import users as user_service
from screening.ranking import (
    DEFAULT_RANKER,
    available_rankers,
    read_labelled_csv,
    simulate,
    write_metrics_json,
    write_order_csv,
    write_recall_svg,
)
from web.cli import database_option, db_session


def register(cli: click.Group) -> None:
    """Add this module's commands to the `sieve` group."""
    for command in (simulate_command, rank_command, stopping_command, stop_command,
                    undo_stop_command):
        cli.add_command(command)


def _prior_ids(value: str | None) -> list[str] | None:
    if value is None:
        return None
    ids = [v.strip() for v in value.split(",") if v.strip()]
    if not ids:
        raise click.BadParameter("give at least one record id", param_hint="--prior-ids")
    return ids


@click.command("simulate")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seed", type=int, required=True, help="Seeds the prior draw and the model.")
@click.option("--model", default="default", show_default=True,
              help=f"Ranker name: {', '.join(available_rankers())}.")
@click.option("--prior-included", type=click.IntRange(min=1), default=None,
              help="Included records drawn as priors (default 1).")
@click.option("--prior-excluded", type=click.IntRange(min=1), default=None,
              help="Excluded records drawn as priors (default 1).")
@click.option("--prior-ids", default=None, help="Start from these record ids (comma-separated).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="metrics.json to write.")
@click.option("--order", "order_path", type=click.Path(dir_okay=False, path_type=Path),
              help="order.csv to write: the full screening order.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="SVG recall curve to write.")
def simulate_command(data: Path, seed: int, model: str, prior_included: int | None,
                     prior_excluded: int | None, prior_ids: str | None, out: Path,
                     order_path: Path | None, plot: Path | None) -> None:
    """Simulate screening a labelled CSV. Example: sieve simulate set.csv --seed 1 --out m.json."""
    if prior_ids is not None and (prior_included is not None or prior_excluded is not None):
        raise click.UsageError("use either --prior-ids or --prior-included/--prior-excluded")
    try:
        labelled = read_labelled_csv(data)
    except (ValueError, UnicodeDecodeError, csv.Error) as exc:
        message = str(exc) if str(data) in str(exc) else f"{data}: {exc}"
        raise click.ClickException(message) from exc
    try:
        result = simulate(labelled.texts, labelled.labels, seed=seed, ranker=model,
                          prior_ids=_prior_ids(prior_ids), record_ids=labelled.record_ids,
                          n_prior_included=prior_included or 1,
                          n_prior_excluded=prior_excluded or 1)
    except ValueError as exc:
        raise click.ClickException(f"{data}: {exc}") from exc
    write_metrics_json(out, result)
    if order_path is not None:
        write_order_csv(order_path, result)
    if plot is not None:
        write_recall_svg(plot, result, title=f"{data.stem}, seed {seed}, {result.ranker}")
    m = result.metrics
    click.echo(f"{data.name}: {m['n_records']} records, {m['n_included']} included; "
               f"WSS@95 {m['wss_95']:.3f}, records to 95% {m['records_to_95']}, "
               f"recall at 10% {m['recall_at_10pct']:.3f}; wrote {out}")


@click.command("rank")
@click.argument("project_id", type=int)
@click.option("--model", default=None,
              help=f"Ranker name: {', '.join(available_rankers())} (the embedding rankers "
                   "need the extra 'embeddings'). Kept for later retrains until changed; "
                   "default: the latest run's, else " + DEFAULT_RANKER + ".")
@click.option("--calibration-size", type=click.IntRange(min=0), default=None,
              help="Put a random sample of this many records first (0 turns it off).")
@click.option("--calibration-seed", type=int, default=0, show_default=True)
@database_option
def rank_command(project_id: int, model: str | None, calibration_size: int | None,
                 calibration_seed: int, url: str | None) -> None:
    """Retrain the project's ranking now. Example: sieve rank 1 --model tfidf-svm."""
    calibration = (None if calibration_size is None
                   else {"size": calibration_size, "seed": calibration_seed})
    with db_session(url) as session:
        run = ranking_service.retrain(session, project_id=project_id, ranker=model,
                                      calibration=calibration)
        click.echo(f"model run {run.id}: {run.model_name} on {run.n_labels} labels "
                   f"({run.n_included} included), {run.metrics['n_records']} records ranked "
                   f"in {run.duration_s:.2f} s (features {run.metrics['features']})")


@click.command("stopping")
@click.argument("project_id", type=int)
@click.option("--recall-target", type=click.FloatRange(0.5, 0.999), default=0.95,
              show_default=True)
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@database_option
def stopping_command(project_id: int, recall_target: float, confidence: float,
                     url: str | None) -> None:
    """Print the stopping rules' current estimates. Example: sieve stopping 1."""
    with db_session(url) as session:
        report = stopping_service.stopping_report(session, project_id=project_id,
                                                  recall_target=recall_target,
                                                  confidence=confidence)
    click.echo(f"screened {report.n_screened} of {report.n_total} records, "
               f"{report.n_found} included")
    est = report.estimate
    if est.estimated_recall is not None and est.recall_interval is not None:
        low, high = est.recall_interval
        click.echo(f"estimated recall {est.estimated_recall:.3f} "
                   f"({confidence:.0%} interval {low:.3f}-{high:.3f})")
    for name, decision in report.rules.items():
        verdict = "STOP" if decision.should_stop else "continue"
        facts = ", ".join(f"{k}={_fmt(v)}" for k, v in decision.evidence.items())
        click.echo(f"{name:24s} {verdict:8s} {facts}")
    if report.active_stop is not None:
        click.echo(f"stopped on {report.active_stop.rule} (stop {report.active_stop.id}): "
                   f"{report.n_auto_excluded} records excluded by automation")


def _fmt(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


@click.command("stop")
@click.argument("project_id", type=int)
@click.option("--rule", type=click.Choice(stopping_service.RULES), required=True)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A rule parameter, e.g. recall_target=0.95 (repeatable).")
@click.option("--force", is_flag=True, help="Stop even if the rule does not say so.")
@click.option("--by", "by_email", required=True, help="Email of a lead of the project.")
@database_option
def stop_command(project_id: int, rule: str, params: tuple[str, ...], force: bool,
                 by_email: str, url: str | None) -> None:
    """Stop screening on a rule. Example: sieve stop 1 --rule hypergeometric --by a@b.org."""
    parsed = dict(p.split("=", 1) for p in params if "=" in p)
    if len(parsed) != len(params):
        raise click.BadParameter("write NAME=VALUE", param_hint="--param")
    with db_session(url) as session:
        lead = user_service.find_user(session, email=by_email)
        event = stopping_service.stop_screening(
            session, project_id=project_id, stage="title_abstract", lead_id=lead.id,
            rule=rule, params=parsed, force=force)
        click.echo(f"stop {event.id}: {event.n_excluded} never-screened records excluded "
                   f"by automation ({rule})")


@click.command("undo-stop")
@click.argument("project_id", type=int)
@click.argument("stop_id", type=int)
@click.option("--by", "by_email", required=True, help="Email of a lead of the project.")
@database_option
def undo_stop_command(project_id: int, stop_id: int, by_email: str, url: str | None) -> None:
    """Put a stop's records back in the queue. Example: sieve undo-stop 1 3 --by a@b.org."""
    with db_session(url) as session:
        lead = user_service.find_user(session, email=by_email)
        event = stopping_service.undo_stop(session, project_id=project_id, stop_id=stop_id,
                                           lead_id=lead.id)
        click.echo(f"stop {event.id} undone: {event.n_excluded} records back in the queue")
