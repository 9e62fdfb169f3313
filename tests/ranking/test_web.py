"""The ranking pages: freshness fragment, stopping page for leads, the chart, stop and undo."""

from __future__ import annotations

import sqlalchemy as sa

from review.models import Record, StopEvent
from review.services import ranking
from review.services.stopping import stopping_report
from tests.conftest import Auth
from tests.factories import make_records
from tests.ranking.helpers import decide, setup_project


def _project(session):
    project, lead, reviewer, records = setup_project(session)
    for i, rec in enumerate(records[:10]):
        decide(session, rec, lead, "include" if i == 0 else "exclude")
    session.commit()
    return project, lead, reviewer, records


def test_freshness_is_a_fragment_for_htmx_and_a_page_otherwise(client, auth, session) -> None:
    project, lead, reviewer, _ = _project(session)
    auth.login(reviewer.email)
    url = f"/projects/{project.id}/ranking/status"
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert "Not ranked yet" in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]
    ranking.retrain(session, project_id=project.id)
    session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "<html" in page and 'id="ranking-freshness"' in page
    assert "on 10 labelled records" in page and "just now" in page
    assert "Retrain now" not in page  # leads only


def test_a_lead_queues_a_retrain(client, auth, session) -> None:
    project, lead, *_ = _project(session)
    auth.login(lead.email)
    response = auth.post(f"/projects/{project.id}/ranking/retrain")
    assert response.status_code == 303
    session.commit()
    assert ranking.ranking_status(session, project_id=project.id).queued


def test_a_lead_chooses_the_model_and_later_retrains_keep_it(app, client, auth, session) -> None:
    from review.jobs import run_pending
    from review.models import Job

    project, lead, _, records = _project(session)
    auth.login(lead.email)
    url = f"/projects/{project.id}/ranking/"
    page = client.get(f"{url}status").get_data(as_text=True)
    assert '<option value="tfidf-svm-fast" selected>tfidf-svm-fast (default)' in page
    bad = auth.post(f"{url}retrain", {"ranker": "no-such-model"})
    assert bad.status_code == 422 and "unknown ranker" in bad.get_data(as_text=True)
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0
    assert auth.post(f"{url}retrain", {"ranker": "tfidf-logreg"}).status_code == 303
    assert run_pending(app.extensions["sieve_sessionmaker"]) == 1
    session.commit()
    page = client.get(f"{url}status").get_data(as_text=True)
    assert '<option value="tfidf-logreg" selected>' in page
    assert "Ranking: <strong>tfidf-logreg</strong>" in page
    # a decision queues a retrain with no ranker given: the lead's choice holds
    decide(session, records[10], lead, "include")
    ranking.request_retrain(session, project_id=project.id, delay_s=0)
    session.commit()
    assert run_pending(app.extensions["sieve_sessionmaker"]) == 1
    session.commit()
    assert ranking.latest_run(session, project_id=project.id).model_name == "tfidf-logreg"


def test_chart_is_svg_with_the_curve_and_estimate(client, auth, session) -> None:
    project, lead, reviewer, _ = _project(session)
    auth.login(reviewer.email)
    response = client.get(f"/projects/{project.id}/ranking/chart.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    body = response.get_data(as_text=True)
    assert body.startswith("<svg") and 'class="found"' in body
    report = stopping_report(session, project_id=project.id)
    assert f"recall at least {100 * report.recall_at_least:.0f}% (95% confidence)" in body
    assert f"at most {report.includes_at_most:.0f} includes in all" in body
    dashboard = client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert f"/projects/{project.id}/ranking/chart.svg" in dashboard


def test_chart_says_too_early_instead_of_extrapolating_the_first_includes(
        client, auth, session) -> None:
    project, lead, reviewer, records = setup_project(session)
    records += make_records(session, project, 400)
    for rec in records[:2]:  # the first two records screened are both includes
        decide(session, rec, lead, "include")
    session.commit()
    auth.login(reviewer.email)
    body = client.get(f"/projects/{project.id}/ranking/chart.svg").get_data(as_text=True)
    report = stopping_report(session, project_id=project.id)
    assert report.recall_at_least < 0.01
    assert "too early to bound recall" in body and "recall at least" not in body
    assert f"at most {len(records)} includes in all" in body  # 2 found + every record left


def test_stopping_page_is_for_leads_and_stop_then_undo(client, auth, session) -> None:
    project, lead, reviewer, records = _project(session)
    auth.login(reviewer.email)
    assert client.get(f"/projects/{project.id}/ranking/stopping").status_code == 403
    auth.post("/logout")
    auth.login(lead.email)
    page = client.get(f"/projects/{project.id}/ranking/stopping").get_data(as_text=True)
    assert 'data-rule="hypergeometric"' in page and "Stop screening" in page
    refused = auth.post(f"/projects/{project.id}/ranking/stopping", {"rule": "hypergeometric"})
    assert refused.status_code == 422 and "does not say stop" in refused.get_data(as_text=True)
    bad = auth.post(f"/projects/{project.id}/ranking/stopping",
                    {"rule": "consecutive-irrelevant", "n_consecutive": "zero"})
    assert bad.status_code == 422 and "must be a number" in bad.get_data(as_text=True)
    done = auth.post(f"/projects/{project.id}/ranking/stopping",
                     {"rule": "consecutive-irrelevant", "n_consecutive": "5"})
    assert done.status_code == 303
    session.commit()
    event = session.scalar(sa.select(StopEvent))
    assert event is not None and event.n_excluded == len(records) - 10
    page = client.get(f"/projects/{project.id}/ranking/stopping").get_data(as_text=True)
    assert 'id="active-stop"' in page
    undone = auth.post(f"/projects/{project.id}/ranking/stopping/{event.id}/undo")
    assert undone.status_code == 303
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Record).where(
        Record.auto_excluded_by_id.is_not(None))) == 0


def test_screening_page_shows_the_freshness_fragment(client, auth, session) -> None:
    project, lead, reviewer, _ = _project(session)
    ranking.retrain(session, project_id=project.id)
    session.commit()
    auth.login(reviewer.email)
    page = client.get(f"/projects/{project.id}/screening/").get_data(as_text=True)
    assert 'id="ranking-freshness"' in page
    assert f'hx-get="/projects/{project.id}/ranking/status"' in page
    assert 'hx-trigger="load, every 15s"' in page


def test_a_lead_sets_a_calibration_sample(client, auth, session, app) -> None:
    from review.jobs import run_pending

    project, lead, *_ = _project(session)
    auth.login(lead.email)
    bad = auth.post(f"/projects/{project.id}/ranking/retrain", {"calibration_size": "many"})
    assert bad.status_code == 422
    ok = auth.post(f"/projects/{project.id}/ranking/retrain",
                   {"calibration_size": "3", "calibration_seed": "4"})
    assert ok.status_code == 303
    run_pending(app.extensions["sieve_sessionmaker"])
    session.commit()
    run = ranking.latest_run(session, project_id=project.id)
    assert run is not None and run.params["calibration"] == {"size": 3, "seed": 4}


def test_the_conflicts_link_shows_to_leads_only(app, client, auth, session) -> None:
    project, lead, reviewer, _ = _project(session)
    queue = f'href="/projects/{project.id}/conflicts/"'
    auth.login(reviewer.email)  # the queue is for leads: a reviewer gets 403 there
    assert client.get(f"/projects/{project.id}/conflicts/").status_code == 403
    html = client.get(f"/projects/{project.id}/").get_data(as_text=True)
    assert f'href="/projects/{project.id}/conflicts/mine"' in html and queue not in html
    lead_client = app.test_client()
    Auth(lead_client).login(lead.email)
    assert lead_client.get(f"/projects/{project.id}/conflicts/").status_code == 200
    assert queue in lead_client.get(f"/projects/{project.id}/").get_data(as_text=True)
