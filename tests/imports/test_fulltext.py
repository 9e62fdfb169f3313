"""Full texts: PDFs matched by DOI or title, bulk zips, manual matching, bad PDFs, serving."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfWriter

from review.errors import PermissionDenied, ValidationError
from review.models import AuditEvent, Record
from review.services import fulltext
from tests.conftest import Auth
from tests.factories import make_records
from tests.imports.conftest import make_pdf

ARTICLE = ["Outcome-based contracts in employment services", "A. Author, B. Author",
           "https://doi.org/10.1234/SIB.2021.007", "Abstract. We study payment by results."]
TITLED = ["Social impact bonds and the outcomes they buy in practice",
          "C. Writer", "Abstract. No identifier printed here."]


def encrypted(data: bytes) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt("secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def records(session, team):
    by_doi = make_records(session, team.project, 1, doi="10.1234/sib.2021.007",
                          title="Outcome-based contracts in employment services")[0]
    by_title = make_records(session, team.project, 1, doi=None,
                            title="Social impact bonds and the outcomes they buy in practice")[0]
    other = make_records(session, team.project, 1, title="An unrelated record on fisheries")[0]
    session.commit()
    return by_doi, by_title, other


def _pdf_dir(tmp_path: Path) -> Path:
    return tmp_path / "instance" / "pdfs"


def test_bulk_zip_matches_by_doi_and_title_and_lists_the_rest(session, team, records,
                                                              tmp_path) -> None:
    by_doi, by_title, _ = records
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("papers/doi.pdf", make_pdf(ARTICLE))
        z.writestr("papers/title.pdf", make_pdf(TITLED))
        z.writestr("papers/stranger.pdf", make_pdf(["Something else entirely, never imported"]))
        z.writestr("papers/readme.txt", "not a pdf")
    outcomes = fulltext.attach_pdfs(session, project_id=team.project.id, user_id=team.lead.id,
                                    files=[("papers.zip", archive.getvalue())],
                                    pdf_dir=_pdf_dir(tmp_path))
    session.commit()
    by_name = {o.filename.rsplit("/", 1)[-1]: o for o in outcomes}
    assert (by_name["doi.pdf"].record_id, by_name["doi.pdf"].method) == (by_doi.id, "doi")
    assert (by_name["title.pdf"].record_id, by_name["title.pdf"].method) == (by_title.id,
                                                                              "title")
    assert by_name["stranger.pdf"].record_id is None and by_name["stranger.pdf"].method == "none"
    assert by_name["readme.txt"].method == "error" and "not a PDF" in by_name["readme.txt"].message
    session.expire_all()
    record = session.get(Record, by_doi.id)
    assert "payment by results" in record.full_text and record.pdf_filename == "doi.pdf"
    assert (_pdf_dir(tmp_path) / f"{record.pdf_sha256}.pdf").read_bytes() == make_pdf(ARTICLE)
    # The unmatched PDF is kept too, so it can be matched by hand later.
    stranger = by_name["stranger.pdf"]
    assert (_pdf_dir(tmp_path) / f"{stranger.sha256}.pdf").exists()


@pytest.mark.parametrize(("data", "reason"), [
    (encrypted(make_pdf(ARTICLE)), "encrypted with a password"),
    (make_pdf(ARTICLE)[:300], "corrupt or unreadable PDF"),
    (make_pdf([]), "no text layer"),
])
def test_bad_pdfs_get_a_clear_message_and_change_nothing(session, team, records, tmp_path,
                                                         data, reason) -> None:
    target = records[2]
    with pytest.raises(ValidationError) as info:
        fulltext.attach_pdf(session, project_id=team.project.id, user_id=team.lead.id,
                            record_id=target.id, filename="paper.pdf", data=data,
                            pdf_dir=_pdf_dir(tmp_path))
    assert str(info.value).startswith("paper.pdf: ") and reason in str(info.value)
    outcomes = fulltext.attach_pdfs(session, project_id=team.project.id, user_id=team.lead.id,
                                    files=[("paper.pdf", data)], pdf_dir=_pdf_dir(tmp_path))
    assert outcomes[0].method == "error" and reason in outcomes[0].message
    session.rollback()
    assert session.get(Record, target.id).pdf_sha256 is None


def test_viewers_cannot_attach(session, team, records, tmp_path) -> None:
    with pytest.raises(PermissionDenied):
        fulltext.attach_pdf(session, project_id=team.project.id, user_id=team.viewer.id,
                            record_id=records[0].id, filename="a.pdf", data=make_pdf(ARTICLE),
                            pdf_dir=_pdf_dir(tmp_path))


def test_web_bulk_upload_manual_match_and_serving(client, auth, team, records, session,
                                                  app) -> None:
    _, _, other = records
    base = f"/projects/{team.project.id}/imports"
    auth.login(team.reviewer.email)
    stranger = make_pdf(["Fish stocks in the North Sea, a report"])
    response = auth.post(f"{base}/fulltexts", {"files": [(io.BytesIO(stranger), "fish.pdf"),
                                                         (io.BytesIO(make_pdf(ARTICLE)),
                                                          "doi.pdf")]},
                         content_type="multipart/form-data")
    assert response.status_code == 303
    results_url = response.headers["Location"]
    page = client.get(results_url).get_data(as_text=True)
    assert "unmatched" in page and "attached (by doi)" in page
    sha = re.search(r'name="pick" value="([0-9a-f]{64})"', page).group(1)
    found = client.get(f"{results_url}?pick={sha}&q=fisheries", headers={"HX-Request": "true"})
    fragment = found.get_data(as_text=True)
    assert "<html" not in fragment and f'value="{other.id}"' in fragment
    matched = auth.post(results_url, {"sha": sha, "record_id": str(other.id)})
    assert matched.status_code == 303
    session.expire_all()
    assert session.get(Record, other.id).pdf_filename == "fish.pdf"
    with client.get(f"{base}/records/{other.id}/pdf") as served:
        assert served.status_code == 200 and served.data == stranger
        assert served.mimetype == "application/pdf"
    viewer = Auth(app.test_client())
    viewer.login(team.viewer.email)
    with viewer.client.get(f"{base}/records/{other.id}/pdf") as served:
        assert served.data == stranger
    assert viewer.post(f"{base}/records/{other.id}/pdf").status_code == 403
    outsider = Auth(app.test_client())
    outsider.login(team.outsider.email)
    assert outsider.client.get(f"{base}/records/{other.id}/pdf").status_code == 404


def test_web_single_attach_and_bad_pdf_message(client, auth, team, records, session) -> None:
    target = records[2]
    base = f"/projects/{team.project.id}/imports/records/{target.id}"
    auth.login(team.lead.email)
    bad = auth.post(f"{base}/pdf", {"pdf": (io.BytesIO(make_pdf([])), "scan.pdf")},
                    content_type="multipart/form-data")
    assert bad.status_code == 422 and "scan.pdf: no text layer" in bad.get_data(as_text=True)
    good = auth.post(f"{base}/pdf", {"pdf": (io.BytesIO(make_pdf(TITLED)), "mine.pdf")},
                     content_type="multipart/form-data")
    assert good.status_code == 303
    page = client.get(f"{base}/fulltext").get_data(as_text=True)
    assert "mine.pdf" in page and "No identifier printed here" in page
    session.expire_all()
    events = session.query(AuditEvent).filter_by(action="record.pdf", object_id=target.id).all()
    assert len(events) == 1 and events[0].after["method"] == "manual"
