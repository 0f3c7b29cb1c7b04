"""`textbooks mix`: datasets mixed in stated proportions of their text, deterministically, repeated
only when asked for a larger mix than the parts hold."""

import inspect
import json

import pytest

from textbooks import cli
from textbooks.records import read_manifest, read_records, write_manifest, write_shard


def make_dataset(directory, module_names, shards=2):
    """The functions of real standard-library modules, one record each, over `shards` shards."""
    import ast

    records = []
    for name in module_names:
        source = inspect.getsource(__import__(name))
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef):
                records.append({"id": f"{name}.{node.name}", "text": ast.get_source_segment(source, node),
                                "source": name})
    for shard in range(shards):
        write_shard(records[shard::shards], directory / f"{shard:05d}.parquet")
    write_manifest(directory, "corpus", {"modules": list(module_names)}, {"records": len(records)})
    return directory, sum(len(r["text"].encode()) for r in records)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    code = make_dataset(tmp_path_factory.mktemp("d") / "code", ("statistics", "textwrap", "shutil"))
    books = make_dataset(tmp_path_factory.mktemp("d") / "books", ("colorsys", "fnmatch"))
    return code, books


def mix(out, parts, *args):
    argv = ["mix", "--out", str(out), *args]
    for (directory, _), share in parts:
        argv += ["--part", f"{directory}={share}"]
    assert cli.main(argv) == 0
    return list(read_records(out)), read_manifest(out)["counts"]


def test_the_mix_holds_each_part_in_its_share_without_repeating_a_record(parts, tmp_path):
    (_, _), (_, books_bytes) = parts
    records, counts = mix(tmp_path / "mix", [(parts[0], 0.8), (parts[1], 0.2)])
    # the books part is the scarcer one: all of it, and the code part four times its bytes
    assert counts["parts"]["books"]["bytes"] == books_bytes and counts["parts"]["books"]["epochs"] == 1
    assert counts["parts"]["code"]["realized_share"] == pytest.approx(0.8, abs=0.01)
    assert len({r["id"] for r in records}) == len(records)  # no record twice
    assert {r["part"] for r in records} == {"code", "books"}
    by_part = {name: sum(len(r["text"].encode()) for r in records if r["part"] == name) for name in ("code", "books")}
    assert by_part == {name: counts["parts"][name]["bytes"] for name in by_part} and counts["bytes"] == sum(
        by_part.values())


def test_a_mix_is_the_same_whatever_the_shard_layout_and_changes_with_the_seed(parts, tmp_path):
    books = parts[1]
    resharded, _ = make_dataset(tmp_path / "code", ("statistics", "textwrap", "shutil"), shards=5)
    first, _ = mix(tmp_path / "a", [(parts[0], 0.5), (books, 0.5)])
    again, _ = mix(tmp_path / "b", [((resharded, 0), 0.5), (books, 0.5)])
    assert [r["id"] for r in first] == [r["id"] for r in again]
    other, _ = mix(tmp_path / "c", [(parts[0], 0.5), (books, 0.5)], "--seed", "1")
    assert [r["id"] for r in other] != [r["id"] for r in first]


def test_a_larger_total_repeats_a_part_under_new_ids(parts, tmp_path):
    (_, books_bytes) = parts[1]
    total = 3 * books_bytes / 0.2  # the books three times over
    records, counts = mix(tmp_path / "big", [(parts[0], 0.8), (parts[1], 0.2)], "--total-bytes", str(int(total)))
    assert counts["parts"]["books"]["epochs"] == 3 and counts["parts"]["books"]["bytes"] == pytest.approx(
        3 * books_bytes, rel=0.01)
    repeats = [r["id"] for r in records if r["id"].endswith("~2")]
    assert repeats and all(r.split("~")[0] in {x["id"] for x in records} for r in repeats)
    assert counts["bytes"] == pytest.approx(total, rel=0.01)


@pytest.mark.parametrize("shares, message", [((0.5, 0.4), "sum to 0.9, not 1"), ((0.5, 0.5), None)])
def test_shares_must_sum_to_one(parts, tmp_path, shares, message):
    argv = ["mix", "--out", str(tmp_path / "m")] + [f"--part={d}={s}" for (d, _), s in zip(parts, shares)]
    if message:
        with pytest.raises(ValueError, match=message):
            cli.main(argv)
    else:
        assert cli.main(argv) == 0 and json.loads((tmp_path / "m" / "manifest.json").read_text())["stage"] == "mix"


def test_a_rerun_is_up_to_date(parts, tmp_path, capsys):
    mix(tmp_path / "m", [(parts[0], 0.5), (parts[1], 0.5)])
    capsys.readouterr()
    mix(tmp_path / "m", [(parts[0], 0.5), (parts[1], 0.5)])
    assert "up to date" in capsys.readouterr().out


def test_one_dataset_is_taken_once_whatever_it_is_called(parts, tmp_path):
    """Reached through a link, copied, or overlapping another part (a corpus and its own filtered
    subset), a dataset would put its records in the mix twice: each is refused, and nothing is written."""
    import shutil

    (code, _), (books, _) = parts
    (tmp_path / "link").symlink_to(code)
    shutil.copytree(code, tmp_path / "copy")
    subset = tmp_path / "subset"
    write_shard(list(read_records(code))[:5], subset / "00000.parquet")
    write_manifest(subset, "classify", {"of": "code"}, {"records": 5})
    for twin, message in ((tmp_path / "link", "same dataset .one directory."),
                          (tmp_path / "copy", "same dataset .one manifest hash."),
                          (subset, "the parts share 5 record ids")):
        with pytest.raises(ValueError, match=message):
            mix(tmp_path / "out", [((code, 0), 0.4), ((twin, 0), 0.3), ((books, 0), 0.3)])
        assert not (tmp_path / "out").exists()
