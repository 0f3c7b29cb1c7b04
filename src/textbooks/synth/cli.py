"""Synthesize training data (paper §2): exercises (CodeExercises, "each exercise is a docstring of a
function that needs to be completed"), kept only if their solution passes their tests in the sandbox,
and textbook passages (prose with python blocks), whose blocks must parse and run.

KIND `exercises`: --teacher mined (the default, offline) mines them from real material: the
documented module-level functions of a corpus (--data, e.g. the classify stage's output), whose
docstring's doctest examples become the tests. Each exercise is verified by defining its function
alone, after the module's imports it uses, and running its tests in the sandbox, so one that needs
its module's other names fails with that reason. Exercises that fail go to OUT/rejects with the
verdict; exact and near copies too, with `duplicate_of`. A record holds `prompt` (imports,
signature + docstring: what a model is given, as in HumanEval), `solution`, `tests`, `entry_point`,
`text` (the whole function, what a model trains on), `constraints`, `teacher`, `usage` (tokens,
retries, cache hit), `verified` and `verdict`.

KIND `textbook`: --teacher mined cuts CPython's own documentation (`pydoc_data.topics`, the language
reference) and the longer docstrings of the standard library (--docstrings: of the installed
packages, or of a directory) into passages. Every python block must
parse; each runs alone in the sandbox; a passage none of whose blocks runs is rejected, one whose
blocks partly run is kept with `verified` false and a verdict naming the block that failed.

--teacher URL#model (or a transformers directory, or one of our checkpoints) asks that LLM for --n
records instead (paper §2.2: constraints on topic and audience, or topic and function name, make
them diverse): the diversity sampler's constraints (--seed, --topics) fill the prompt template
(--prompt-template), one prompt per record, and the replies are verified and deduplicated as mined
records are; a reply that holds no exercise or passage goes to OUT/rejects with why. The prompts
run in this process whatever --executor says (one client: one response cache in
OUT/llm-cache.sqlite, one --budget-tokens, --concurrency requests at once); verification runs on
--executor. A rerun, or a killed run rerun, asks nothing the cache has answered. The manifest's
`cost` is the ledger per teacher model: the tokens, requests and retries this run paid for, the
cache hits it got free, the pass rate and records/s; a run killed and resumed has the ledger of
one uninterrupted run, plus the requests the kill caught in flight, sent again (`resent`). A
teacher that reports no usage has its tokens counted here (`counted`, `counted_with`). When
--budget-tokens runs out, the replies paid for are verified and written, the manifest says
`stopped`, and the run is finished (as label's): rerun with a bigger budget to ask for the rest,
the answered prompts coming from the cache.

--estimate [PILOT] asks only the first prompts and prints what the run would spend and keep;
--price IN,OUT adds the cost to the ledger.

Examples:
  textbooks synth exercises --data runs/x/classify --out runs/x/exercises
  textbooks synth textbook --out runs/x/passages
  textbooks synth textbook --docstrings stdlib --docstrings packages --out runs/x/passages
  textbooks synth exercises --teacher http://127.0.0.1:8000/v1#gpt-4 --n 1000 --out runs/x/exercises
"""

from __future__ import annotations

import functools
import json
import re
import time
import typing
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

from pydantic import BeforeValidator

from textbooks.executor import SerialExecutor
from textbooks.layout import LLM_CACHE, REJECTS, STOPPED
from textbooks.llm.http import COUNTING_ENCODING, MAX_RETRIES, REQUEST_DEADLINE_S, TIMEOUT_S
from textbooks.options import PositiveInt, check_seconds, hashed, opt
from textbooks.records import atomic_write_json, atomic_write_text, read_column, throughput
from textbooks.similarity.dedup import (DEDUP_COLUMNS, NEAR_THRESHOLD, PENDING, NearDedup, find_duplicates,
                                        with_dedup_keys)
from textbooks.synth.curriculum.exercises import TEACHER as CURRICULUM  # the offline teacher that is a program
from textbooks.synth import exercises, passages
from textbooks.synth.exercises import NOT_RUN, normalized_solution, text_id
from textbooks.synth.mined import mine_exercises
from textbooks.stage import (ApplyDecisions, ParallelOptions, StageResult, StageRun, StageSpec, read_stop, run_stage,
                             written_column)

STAGE = StageSpec("synth")  # its output's kind is "synth exercises" or "synth textbook" (`stage_of`)
# Each kind and the sampler's axes and template its prompts are made with.
KINDS = {"exercises": "exercises", "textbook": "textbooks"}
# Each kind's (reply_record: a reply into its record or reject, a batch's verification in a sandbox,
# the step that verifies a shard).
KIND_FUNCTIONS = {"exercises": (exercises.reply_record, exercises.verify_exercises, exercises.VerifyShard),
                  "textbook": (passages.reply_record, passages.verify_passages, passages.VerifyPassagesShard)}
# In OUT/.work: the mined exercises (or the prompts and the teacher's exercises), the same verified
# and keyed for dedup, and the dedup decisions.
MINED, PLAN, ASKED, VERIFIED, DECISIONS = "mined", "plan", "asked", "verified", "decisions.parquet"
AGAINST = "against"  # in OUT/.work: the --dedup-against dataset's records, keyed
PROMPTS_PER_SHARD = 50  # a shard is one batch of concurrent requests, and the unit a killed run resumes from
# Sampled, not greedy: a prompt's constraints already differ, and sampling varies the code further
# (paper §2.2 asks for diverse data); each request's own seed makes a rerun hit the cache.
TEMPERATURE, MAX_TOKENS = 0.8, 1024  # MAX_TOKENS: the default of --max-tokens, room for an exercise
PILOT = 8  # prompts --estimate asks by default
CURRICULUM_PER_SHARD = 1000  # records a shard of the curriculum's: no request to batch, only work to spread
MIN_SHARDS = 8


def price(text) -> tuple[float, float]:
    """"IN,OUT", the price of 1M prompt and of 1M completion tokens."""
    if not isinstance(text, str):
        text = ",".join(map(str, text))
    try:
        prices = tuple(float(part) for part in text.split(","))
    except ValueError:
        prices = ()
    if len(prices) != 2 or min(prices) < 0:
        raise ValueError(f"expected IN,OUT: two prices per 1M tokens, such as 0.5,1.5; got {text!r}")
    return prices


Price = typing.Annotated[tuple[float, float], BeforeValidator(price)]


class Options(ParallelOptions):
    kind: typing.Literal["exercises", "textbook"] = opt(help="exercises, or textbook passages", positional=True)
    teacher: str = opt("mined", help="mined (default, offline: from the documented functions of --data, or "
                                     "CPython's documentation), curriculum (offline: --n lessons or exercises "
                                     "composed from a typed library of Python concepts), or the LLM to ask: an "
                                     "endpoint URL#model, a transformers directory or one of our checkpoints")
    data: Path | None = opt(None, help="the corpus dataset to mine (--teacher mined)", metavar="DIR", hashed=False)
    n: PositiveInt | None = opt(None, help="records to ask a teacher for, or the curriculum to write (required with "
                                           "either)")
    seed: int = opt(0, help="which constraints the sampler draws")
    topics: Path | None = opt(None, help="topics: a YAML tree or one per line (default: the packaged tree)",
                              metavar="FILE")
    prompt_template: Path | None = opt(None, help="the prompt's string.Template text (default: the packaged one)",
                                       metavar="FILE", hashed=False)
    concepts: bool = opt(False, help="with a teacher LLM (synth exercises): each prompt names a concept of the "
                                     "curriculum (the topic, function name, signature and steps of the exercise "
                                     "--teacher curriculum would write), so the LLM covers the same library of "
                                     "concepts")
    budget_tokens: PositiveInt | None = opt(None, help="the most tokens a teacher may spend")
    price: Price | None = opt(None, help="the teacher's price per 1M prompt and completion tokens: the ledger adds "
                                         "the cost", metavar="IN,OUT")
    max_tokens: PositiveInt = opt(MAX_TOKENS, help="the most tokens a reply may have; with the prompt, within the "
                                                   "teacher's context")
    estimate: PositiveInt | None = opt(None, help=f"ask only the first PILOT prompts (default {PILOT}) and print "
                                                  "what the whole run would spend and keep; their replies are "
                                                  "cached, so the run pays nothing for them again",
                                       metavar="PILOT", const=PILOT, hashed=False)
    concurrency: PositiveInt = opt(8, help="requests a teacher endpoint is sent at once", hashed=False)
    request_timeout: float = opt(TIMEOUT_S, help=f"seconds each attempt of a request to a teacher endpoint may take in "
                                                 f"all (default {TIMEOUT_S:g}); a request is tried {MAX_RETRIES + 1} "
                                                 f"times at most, so with the defaults it has failed for good within "
                                                 f"{REQUEST_DEADLINE_S:.0f} s", metavar="SECONDS", hashed=False)
    out: Path = opt(help="the dataset directory to write", hashed=False)
    docstrings: list[str] | None = opt(None, help="synth textbook --teacher mined: whose module and class docstrings "
                                                  "become passages, besides the language reference: stdlib (the "
                                                  "default), packages (the installed ones) or a directory of .py "
                                                  "files; repeatable", metavar="SOURCE")
    allow_untested: bool = opt(False, help="keep documented functions without doctest examples (unverified)")
    timeout: float = opt(3.0, help="seconds each exercise may run")
    near_threshold: float = opt(NEAR_THRESHOLD, help="Jaccard similarity from which an exercise is a near duplicate")
    dedup_against: Path | None = opt(None, help="a dataset (a corpus, an earlier synth output) whose copies are "
                                                "rejected too", metavar="DIR")


def setup(options: Options) -> dict:
    """Check the options before any work; return what the run reads from them now: the directories of
    --docstrings, a teacher's topics and prompt template."""
    check_seconds(timeout=options.timeout, request_timeout=options.request_timeout)
    NearDedup(options.near_threshold)  # validates the threshold before any work
    if options.dedup_against and not options.dedup_against.is_dir():
        raise FileNotFoundError(f"--dedup-against {options.dedup_against} is not a dataset directory")
    if options.allow_untested and (options.teacher != "mined" or options.kind != "exercises"):
        raise ValueError("--allow-untested keeps mined functions without doctest examples: it applies to "
                         "synth exercises --teacher mined only (a teacher's exercises must come with tests)")
    if options.docstrings and (options.teacher != "mined" or options.kind != "textbook"):
        raise ValueError("--docstrings names what synth textbook --teacher mined mines: it applies to that only")
    if options.estimate and options.teacher in ("mined", CURRICULUM):
        raise ValueError(f"--estimate prices what a teacher LLM would be asked: --teacher {options.teacher} asks none")
    if options.teacher == CURRICULUM:
        if options.n is None or options.data:
            raise ValueError("--teacher curriculum writes --n records of its own: it needs --n and takes no --data")
        return {}
    if options.teacher != "mined":
        return setup_teacher(options)
    if options.n is not None:
        raise ValueError("--n is the number of exercises to ask a teacher LLM for: --teacher mined takes all")
    if options.kind == "textbook":  # mined from this interpreter's own documentation, not from a corpus
        if options.data:
            raise ValueError("synth textbook --teacher mined reads CPython's documentation; it takes no --data "
                             "(--docstrings names whose docstrings it mines)")
        return {"docstrings": docstring_dirs(options.docstrings or ["stdlib"])}
    if not options.data:
        raise ValueError("--teacher mined needs --data: a corpus dataset whose documented functions to mine")
    if not options.data.is_dir():
        raise FileNotFoundError(f"--data {options.data} is not a dataset directory")
    return {}


def setup_teacher(options: Options) -> dict:
    """A teacher LLM's checks, and its topics and template, read now."""
    from textbooks.synth.sampler import load_template, load_topics

    if options.n is None:
        raise ValueError(f"--teacher {options.teacher} needs --n: how many exercises to ask for")
    if options.data:
        raise ValueError("--data is the corpus --teacher mined mines; a teacher LLM needs none")
    if options.concepts and options.kind != "exercises":
        raise ValueError("--concepts names a curriculum concept in each exercise's prompt: synth exercises only")
    return {"topics": load_topics(options.topics), "template": load_template(KINDS[options.kind],
                                                                            options.prompt_template)}


def run(options: Options) -> dict:
    """Mine, compose (the curriculum) or ask a teacher for the records, by --teacher; verify and
    deduplicate them into OUT; return the manifest (with --estimate: the pilot's figures)."""
    read = setup(options)
    if options.estimate:
        return estimate(options, **read)
    config = hashed(options, **read)
    if "template" in read:  # the topics and template by content: editing either file reruns the stage
        config.update(topics=text_id("\n".join(read["topics"])), template=text_id(read["template"]))
    work = {"mined": _mine, CURRICULUM: _compose}.get(options.teacher, _ask)
    inputs = [path for path in (options.data, options.dedup_against) if path]
    return run_stage(stage_of(options.kind), options.out, config, lambda run: work(run, options, **read),
                     inputs=inputs, executor=options.make_executor())


def stage_of(kind: str) -> StageSpec:
    """The stage of one kind of records: exercises and passages are two kinds of output, so that one
    never replaces the other (textbooks.outputs)."""
    return replace(STAGE, name=f"{STAGE.name} {kind}")


def _mine(run: StageRun, options: Options, docstrings: list[str] = ()) -> StageResult:
    """Mine each corpus shard (in parallel), or the documentation, then verify, deduplicate and write out."""
    if options.kind == "exercises":
        run.map("mine", functools.partial(mine_exercises, allow_untested=options.allow_untested), options.data,
                run.work / MINED)
    else:
        _write_passages(run.work / MINED, docstrings)
    counts = verify_and_write(run, run.work / MINED, options)
    return StageResult(counts, f"{counts['records']} {options.kind} records kept of {counts['records_in']} mined "
                               f"(verification pass rate {counts['pass_rate']:.1%}); rejected {counts['by_reason']} "
                               f"-> {run.out}")


def docstring_dirs(sources: list[str]) -> list[str]:
    """The directories of --docstrings sources: stdlib, packages, or directories that must exist."""
    from textbooks.sources import resolve_source

    dirs = [path for source in sources for path in resolve_source(source)]
    for path in dirs:
        if not Path(path).is_dir():
            raise NotADirectoryError(f"--docstrings {path} is not a directory of Python files (nor stdlib, packages)")
    return list(dict.fromkeys(dirs))


def _write_passages(mined: Path, docstrings: list[str], per_shard: int = 100) -> None:
    """The passages mined from CPython's documentation and the docstrings under `docstrings`, as
    shards, mined once: a resumed run finds the marker written after the last shard (the installed
    packages take half a minute to mine) and keeps them."""
    from textbooks.records import write_shard
    from textbooks.synth.mined import mine_passages

    complete = mined.with_name(f"{mined.name}.complete")
    if complete.exists():
        return
    found = list(mine_passages(roots=docstrings))
    for start in range(0, len(found), per_shard):
        write_shard(found[start:start + per_shard], mined / f"{start // per_shard:05d}.parquet")
    complete.parent.mkdir(parents=True, exist_ok=True)
    complete.touch()


def _compose(run: StageRun, options: Options) -> StageResult:
    """Plan the records, write them in parallel shards (each its own seeded records: the same on
    any layout), then verify, key, deduplicate and write out as the other teachers do."""
    from textbooks.synth.curriculum.teacher import plan

    planned = [{"id": f"plan-{p['number']:06d}", "text": "", "source": "plan", "plan": json.dumps(p)}
               for p in plan(options.kind, options.n, options.seed)]
    # at least MIN_SHARDS shards, so a small run (1,000 lessons of five blocks each) keeps every worker busy
    _write_prompts(planned, run.work / PLAN, min(CURRICULUM_PER_SHARD, -(-len(planned) // MIN_SHARDS)))
    run.map("compose", ComposeShard(options.kind), run.work / PLAN, run.work / ASKED)
    counts = verify_and_write(run, run.work / ASKED, options)
    return StageResult(counts, f"{counts['records']} {options.kind} records kept of {counts['records_in']} written "
                               f"by the curriculum (verification pass rate {counts['pass_rate']:.1%}"
                               + (f", {counts['distinct_solutions']} distinct solutions"
                                  if "distinct_solutions" in counts else "")
                               + f"); rejected {counts['by_reason']} -> {run.out}")


@dataclass(frozen=True)
class ComposeShard:
    """The step that turns a shard of planned records into the curriculum's exercises or lessons; a
    generator failure leaves as a pending reject (see AskTeacher) to reach OUT/rejects."""

    kind: str

    def __call__(self, planned: Iterable[dict]) -> Iterator[dict]:
        from textbooks.synth.curriculum.teacher import record

        for entry in planned:
            made = record(self.kind, json.loads(entry["plan"]))
            reason = made.pop("reason", None)
            yield {**made, PENDING: reason}


def _ask(run: StageRun, options: Options, topics: list[str], template: str) -> StageResult:
    """Plan the prompts, ask the teacher shard by shard (in this process: one client, one cache, one
    budget), then verify, key, deduplicate and write out as the mined path does."""
    from textbooks.llm.cache import LEDGER_AT_START, run_began, tokens_spent_in_run

    _write_prompts(plan_records(topics, template, options), run.work / PLAN)
    spent = tokens_spent_in_run(run.out / LLM_CACHE, run.work / LEDGER_AT_START)  # a killed attempt's spending
    with _client(options, run.out, spent) as client:
        ask = AskTeacher(client, options.teacher, options.kind, options.max_tokens,
                         run_began(run.work / LEDGER_AT_START), str(run.work / STOPPED))
        # A copy of `run` that maps on a SerialExecutor and records into the same `steps`.
        replace(run, executor=SerialExecutor()).map("ask", ask, run.work / PLAN, run.work / ASKED)
    stopped = (read_stop(run.work / STOPPED) or {}).get("reason")
    counts = verify_and_write(run, run.work / ASKED, options, stopped)
    counts = {**counts, "stopped": stopped, "not_asked": options.n - counts["records_in"] if stopped else 0,
              "cost": _cost_ledger(run.out, options.price, time.time() - run.started)}
    return StageResult(counts, f"{counts['records']} {options.kind} records kept of {counts['records_in']} asked of "
                               f"{options.teacher} (verification pass rate {counts['pass_rate']:.1%}); rejected "
                               f"{counts['by_reason']}" + (f"; stopped: {stopped} ({counts['not_asked']} of "
                                                            f"{options.n} prompts not asked)" if stopped else "")
                       + f"; {ledger_line(counts['cost'])} -> {run.out}")


def _client(options: Options, out: Path, spent: int = 0):
    """The teacher's client: its replies cached in OUT, its spending within --budget-tokens."""
    from textbooks.llm import open_client

    return open_client(options.teacher, cache=out / LLM_CACHE, budget_tokens=options.budget_tokens,
                       spent_tokens=spent, concurrency=options.concurrency, timeout_s=options.request_timeout)


def estimate(options: Options, topics: list[str], template: str) -> dict:
    """Ask the run's first --estimate prompts (into OUT's response cache: the run itself then pays
    nothing for them), verify the replies, and print what the whole run of --n would spend and keep."""
    from textbooks.outputs import claim_output
    from textbooks.sandbox.pool import Sandbox

    prompts = plan_records(topics, template, options)[:options.estimate]
    with claim_output(options.out, stage_of(options.kind).name) as out, _client(options, out) as client:
        asked = list(AskTeacher(client, options.teacher, options.kind, options.max_tokens)(prompts))
    with Sandbox() as sandbox:
        _, verify, _ = KIND_FUNCTIONS[options.kind]
        verified = verify(list(with_reason_restored(asked)), sandbox, exercises.exercise_limits(options.timeout))
    figures = _extrapolate(asked, verified, options.n, options.price)
    print(f"pilot of {len(asked)} of {options.n} prompts: {figures['tokens_per_request']:.0f} tokens a request; the "
          f"run would spend about {figures['tokens']:,} tokens" + (f" (cost {figures['cost']:.2f})" if options.price
                                                                   else "")
          + f" and keep about {figures['kept']} exercises (pass rate {figures['pass_rate']:.0%})")
    return figures


def _extrapolate(asked: list[dict], verified: list[dict], n: int, prices: tuple[float, float] | None) -> dict:
    """A pilot's mean tokens and pass rate, scaled to `n` requests."""
    usage = [json.loads(record["usage"]) for record in asked]
    prompt_tokens = sum(u["prompt_tokens"] for u in usage) / len(usage)
    completion_tokens = sum(u["completion_tokens"] for u in usage) / len(usage)
    pass_rate = sum(not record.get("reason") for record in verified) / len(verified)
    figures = {"pilot": len(asked), "n": n, "tokens_per_request": prompt_tokens + completion_tokens,
               "tokens": round(n * (prompt_tokens + completion_tokens)), "pass_rate": pass_rate,
               "kept": round(n * pass_rate)}
    if prices:
        figures["cost"] = n * (prompt_tokens * prices[0] + completion_tokens * prices[1]) / 1e6
    return figures


def verify_and_write(run: StageRun, records: Path, options: Options, stopped: str | None = None) -> dict:
    """The tail both teachers share: verify and key the exercises (in parallel, each worker with its
    own sandbox), find the duplicates (one pass), write the shards out; the manifest's counts. No
    candidate at all is an error, unless a budget `stopped` the run before its first reply."""
    # The curriculum's records are code we wrote: a lesson's block that fails is a generator bug, not
    # a lapse of a teacher's whose prose still teaches, so it rejects the lesson; and its exercises
    # touch nothing beyond their own namespace, so several share a sandbox run.
    ours = options.teacher == CURRICULUM
    verified = run.map("verify", VerifyAndKey(options.timeout, options.kind, ours), records, run.work / VERIFIED)
    if not sum(s.records_in for s in verified):
        if stopped:  # finished, as stopped: a rerun with a larger budget asks for the rest
            return _count_output(run.out, {}, 0, time.time() - run.started, False)
        raise ValueError(f"synth {options.kind} has nothing to verify: " + (
            f"--data {options.data} holds no documented module-level function to mine (with doctest examples, "
            "unless --allow-untested)" if options.teacher == "mined" and options.kind == "exercises"
            else "nothing was written to verify"))
    keyed = [run.work / VERIFIED]
    if options.dedup_against:  # its records come first: the originals our copies are rejected for
        run.map("key against", with_dedup_keys, options.dedup_against, run.work / AGAINST)
        keyed.insert(0, run.work / AGAINST)
    dedup = find_duplicates(keyed, run.work / DECISIONS, options.near_threshold)
    applied = run.map("apply", ApplyDecisions(str(run.work / DECISIONS), drop=DEDUP_COLUMNS), run.work / VERIFIED)
    return _count_output(run.out, dedup, sum(s.records_in for s in applied), time.time() - run.started,
                         options.kind == "exercises")


def plan_records(topics: list[str], template: str, options: Options) -> list[dict]:
    """One record per prompt: the sampler's constraints rendered into the template, with the
    sampling seed of its request (the same in a pilot, a run and a rerun: cache hits)."""
    from textbooks.synth.sampler import render_prompt, sample_constraints

    sampler_kind = KINDS[options.kind]
    constraints = sample_constraints(sampler_kind, options.n, options.seed, topics)
    if options.concepts:  # the curriculum's concepts name each exercise's topic, name and task
        from textbooks.synth.curriculum.teacher import concept_constraints, plan

        planned = plan("exercises", options.n, options.seed)
        constraints = [{**c, **concept_constraints(p)} for c, p in zip(constraints, planned)]
    return [{"id": f"prompt-{i:05d}", "text": render_prompt(sampler_kind, c, template), "source": "plan",
             "constraints": json.dumps(c, sort_keys=True), "temperature": TEMPERATURE,
             "seed": _request_seed(options.seed, i)} for i, c in enumerate(constraints)]


def _write_prompts(plan: list[dict], plan_dir: Path, per_shard: int = PROMPTS_PER_SHARD) -> None:
    """The prompts as plan shards of `per_shard` (left as they are when a resumed run finds them)."""
    for start in range(0, len(plan), per_shard):
        text = "".join(json.dumps(p, sort_keys=True) + "\n" for p in plan[start:start + per_shard])
        path = plan_dir / f"{start // per_shard:05d}.jsonl"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)


def _request_seed(seed: int, number: int) -> int:
    """Each prompt's sampling seed: fixed by the run's seed and the prompt's number, so a rerun sends
    the same request (a cache hit) and two runs' seeds do not overlap."""
    return int(text_id(f"{seed}/{number}")[:8], 16)


@dataclass
class AskTeacher:
    """The step that asks the teacher for a plan shard's prompts (one batch of concurrent requests)
    and turns each reply into an exercise record, or a reject of the reply with why. Each record's
    `usage` says whether its reply was a cache hit: stored before the run `began`.

    When the budget runs out (with a `stopped_path`; without one, BudgetExceeded is raised), the
    replies paid for are kept, and `stopped_path` records why and which prompts they answered; from
    then on the step asks nothing more. A run killed after that and resumed asks those same prompts
    again, from the cache, and no others: it ends as the uninterrupted run did (as label does).

    A reply's reject leaves this step as a pending reject (`pending_reason`, set on every record so
    the shard has one schema): a `reason` would send it to this step's rejects in OUT/.work, which
    are dropped at the end. The verify step turns it back into a `reason`, passes it through
    unverified, and keys it (with_dedup_keys) so it reaches OUT/rejects as verification failures do.
    """

    client: object  # a textbooks.llm.Backend
    teacher: str
    kind: str = "exercises"
    max_tokens: int = MAX_TOKENS
    began: float = float("inf")  # when the run began (llm.cache.run_began); inf: every cached reply is a hit
    stopped_path: str | None = None

    def __call__(self, plan: Iterable[dict]) -> Iterator[dict]:
        from textbooks.llm import Request
        from textbooks.llm.ask import complete_until_stopped

        stop = read_stop(Path(self.stopped_path)) if self.stopped_path else None
        plan = [p for p in plan if stop is None or p["id"] in stop["answered"]]
        requests = [Request(messages=(("user", p["text"]),), max_tokens=self.max_tokens, temperature=p["temperature"],
                            seed=p["seed"]) for p in plan]
        responses, stopped = complete_until_stopped(self.client, requests)
        if stopped is not None and self.stopped_path is None:
            raise stopped
        if stopped is not None and stop is None:
            answered = [p["id"] for p, response in zip(plan, responses) if response is not None]
            atomic_write_json(self.stopped_path, {"reason": str(stopped), "answered": answered})
        for prompt, response in zip(plan, responses):
            if response is not None:
                yield self.record(prompt, response)

    def record(self, prompt: dict, response) -> dict:
        """The reply's record (or pending reject), with its usage."""
        reply_record, _, _ = KIND_FUNCTIONS[self.kind]
        usage = {"prompt_tokens": response.prompt_tokens, "completion_tokens": response.completion_tokens,
                 "retries": response.retries, "cache_hit": response.cached and response.cached_at < self.began,
                 "counted": response.counted, "resent": response.resent}
        record = reply_record(response.text, json.loads(prompt["constraints"]), self.teacher, usage)
        reason = record.pop("reason", None)
        # the prompt's id too: two prompts answered alike are two records (dedup then keeps one)
        return {**record, "id": text_id(f"{prompt['id']}\n{record['id']}"), PENDING: reason}


@dataclass(frozen=True)
class VerifyAndKey:
    """The step that runs each record's code in the sandbox (an exercise against its tests, a
    passage block by block) and adds the dedup keys; a failed one keeps its verdict as a pending
    reject (similarity.dedup.with_dedup_keys)."""

    timeout_s: float
    kind: str = "exercises"
    ours: bool = False  # the records are the curriculum's (see verify_and_write)

    def __call__(self, records: Iterable[dict]) -> Iterator[dict]:
        _, _, verify_shard = KIND_FUNCTIONS[self.kind]
        yield from with_dedup_keys(verify_shard(self.timeout_s, self.ours)(with_reason_restored(records)))


def with_reason_restored(records: Iterable[dict]) -> Iterator[dict]:
    """Records whose `pending_reason` (a teacher reply's reject, see AskTeacher) is their `reason`
    again, so verification passes them through as rejects; mined records have none."""
    for record in records:
        pending = record.pop(PENDING, None)
        yield {**record, "reason": pending} if pending else record


def _count_output(out: Path, dedup: dict, records_in: int, seconds: float, are_exercises: bool) -> dict:
    """The manifest's counts: exercises kept and rejected by kind of reason, the verification pass
    rate (over the exercises that reached the sandbox), dedup and throughput; of exercises, how many
    distinct solutions they hold (exercises.normalized_solution)."""
    reasons = read_column(out / REJECTS, "reason") if (out / REJECTS).is_dir() else []
    by_reason = Counter(reason_kind(reason) for reason in reasons)
    counts = {"records": len(read_column(out, "id")), "rejected": len(reasons), "records_in": records_in,
              "by_reason": dict(sorted(by_reason.items())), "dedup": dedup,
              "pass_rate": pass_rate(written_column(out, "verdict")), **throughput(records_in, 0, seconds)}
    if counts["records"] and are_exercises:
        solutions = zip(read_column(out, "prompt"), read_column(out, "solution"))
        counts["distinct_solutions"] = len({normalized_solution(prompt, body) for prompt, body in solutions})
    return counts


def pass_rate(verdicts: Iterable[str | None]) -> float:
    """The share of passed among the verdicts of records whose code ran (not those never run, or with no code)."""
    ran = [v for v in verdicts if v and v not in (NOT_RUN, passages.NO_CODE)]
    return sum(v == "passed" for v in ran) / len(ran) if ran else 0.0


def reason_kind(reason: str) -> str:
    """A reject's reason without its detail: "failed verification: failed: NameError: ..." is
    "failed verification: failed", "near duplicate (estimated Jaccard 0.88)" is "near duplicate",
    "no code block runs: 0 of 3 blocks passed; ..." is "no code block runs"."""
    return ": ".join(re.split(r" \(|;|: block |: \d", reason)[0].split(": ")[:2])


def _cost_ledger(out: Path, prices: tuple[float, float] | None, seconds: float) -> dict:
    """The manifest's `cost` (module docstring), summed from each record's usage, rejects included (a
    rejected reply was paid for too): tokens as the server reported them, retries included; `resent`
    requests were probably paid twice; `counted`: replies whose tokens we counted (the teacher
    reported none); with `prices` (per 1M prompt and completion tokens) the `cost`."""
    ledger: dict[str, dict] = {}
    columns = (written_column(out, column) for column in ("teacher", "usage", "verdict"))
    for teacher, usage, verdict in zip(*columns):
        usage = json.loads(usage)
        entry = ledger.setdefault(teacher, {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0, "retries": 0,
                                            "cache_hits": 0, "resent": 0, "counted": 0, "verdicts": []})
        entry["verdicts"].append(verdict)
        if usage["cache_hit"]:
            entry["cache_hits"] += 1
            continue
        for key in ("prompt_tokens", "completion_tokens", "retries", "resent", "counted"):
            entry[key] += usage.get(key, 0)  # records written before a key was kept have none
        entry["requests"] += 1
    for entry in ledger.values():
        verdicts = entry.pop("verdicts")
        entry.update(total_tokens=entry["prompt_tokens"] + entry["completion_tokens"],
                     pass_rate=round(pass_rate(verdicts), 4),
                     records_per_s=round(len(verdicts) / max(seconds, 1e-9), 2))
        if entry["counted"]:
            entry["counted_with"] = COUNTING_ENCODING
        if prices:
            entry["cost"] = round((entry["prompt_tokens"] * prices[0] + entry["completion_tokens"] * prices[1]) / 1e6,
                                  6)
    return ledger


def ledger_line(ledger: dict) -> str:
    """The ledger in a few words per teacher, for the summary line."""
    return "; ".join(f"{teacher}: paid {entry['total_tokens']:,} tokens for {entry['requests']} requests "
                     f"({entry['retries']} retries, {entry['cache_hits']} cache hits"
                     + (f", {entry['resent']} sent again after a kill" if entry.get("resent") else "")
                     + (f", tokens of {entry['counted']} replies counted with {entry['counted_with']}: the "
                        "teacher reported none" if entry.get("counted") else "")
                     + (f", cost {entry['cost']:.4f}" if "cost" in entry else "") + ")"
                     for teacher, entry in ledger.items())
