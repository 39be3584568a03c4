"""User mistakes end in one line on stderr naming the argument or file and exit status 2, in one place (the dispatcher);
bugs keep their traceback, and `--debug` shows it for user mistakes too. Each case is a mistake a user makes."""

import argparse
import errno
import importlib
import json
import subprocess
import sys

import pytest

from unloc.cli import main
from unloc.cli.errors import USER_ERRORS, UsageError, call_command, describe, is_user_error
from unloc.study.__main__ import main as study_main


def run_cli(entry, argv, capsys):
    """(exit code, stderr) of a command run in this process, whether it returns or argparse exits."""
    try:
        code = entry(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


def last_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert lines, "nothing on stderr"
    return lines[-1]


# ---------------------------------------------------------------- the one place


def _command(error):
    def command(args):
        raise error
    return command


def test_a_user_error_is_one_line_and_exit_2(capsys):
    code = call_command(_command(UsageError("--frames 0: must be >= 1")), argparse.Namespace(), "unloc x")
    assert (code, capsys.readouterr().err) == (2, "unloc x: error: --frames 0: must be >= 1\n")
    code = call_command(_command(FileNotFoundError(errno.ENOENT, "No such file or directory", "a/b.json")),
                        argparse.Namespace(), "unloc x")
    assert (code, capsys.readouterr().err) == (2, "unloc x: error: a/b.json: No such file or directory\n")


def test_a_bug_keeps_its_traceback_and_debug_shows_user_errors_too():
    with pytest.raises(ZeroDivisionError):
        call_command(_command(ZeroDivisionError("division by zero")), argparse.Namespace(), "unloc x")
    with pytest.raises(ValueError, match="plain"):  # a bare ValueError is not known to be the user's fault
        call_command(_command(ValueError("plain")), argparse.Namespace(), "unloc x")
    with pytest.raises(UsageError):
        call_command(_command(UsageError("bad")), argparse.Namespace(), "unloc x", debug=True)


def test_an_interrupt_is_one_line_and_exit_130(capsys):
    code = call_command(_command(KeyboardInterrupt()), argparse.Namespace(), "unloc x")
    assert (code, capsys.readouterr().err) == (130, "unloc x: interrupted\n")


def test_which_errors_are_the_users():
    from unloc.config.strict import ConfigError
    from unloc.data.video import VideoDecodeError
    from unloc.train import NonFiniteLossError, ResumeError

    assert is_user_error(ConfigError("train.epochs must be >= 1"))
    assert is_user_error(VideoDecodeError("v.mp4", "moov atom not found"))
    assert is_user_error(ResumeError("cannot resume", "missing"))
    assert is_user_error(NonFiniteLossError("non-finite loss at step 3", step=3, components={}))
    assert is_user_error(IsADirectoryError(errno.EISDIR, "Is a directory", "runs"))
    assert not is_user_error(ValueError("x")) and not is_user_error(TypeError("x")) and not is_user_error(OSError())
    assert describe(IsADirectoryError(errno.EISDIR, "Is a directory", "runs")) == "runs: Is a directory"


@pytest.mark.parametrize("module_name", sorted(USER_ERRORS))
def test_the_table_of_user_errors_names_real_exception_classes(module_name):
    """A renamed module or class would silently turn a user error back into a traceback."""
    module = importlib.import_module(module_name)
    for name in USER_ERRORS[module_name]:
        assert isinstance(getattr(module, name), type) and issubclass(getattr(module, name), Exception), name


def test_debug_before_or_after_the_command_shows_the_traceback(tmp_path):
    (tmp_path / "afile").write_text("x")
    for argv in (["--debug", "localize", "v.mp4", "--run", str(tmp_path), "--classes-file", str(tmp_path / "afile"),
                  "--top-k", "1"],
                 ["localize", "v.mp4", "--run", str(tmp_path), "--top-k", "1", "--debug"]):
        done = subprocess.run([sys.executable, "-c", "import sys; from unloc.cli import main; sys.exit(main())", *argv],
                              check=False, capture_output=True, text=True)
        assert done.returncode == 1 and "Traceback (most recent call last)" in done.stderr, done.stderr
        assert "FileNotFoundError" in done.stderr and "not a finished unloc run" in done.stderr


# ---------------------------------------------------------------- item 4: extract-features numbers


@pytest.fixture
def videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "a.mp4").write_bytes(b"not decoded before the arguments are checked")
    return folder


@pytest.mark.parametrize("option, value", [
    ("--frames", "0"), ("--frames", "-3"), ("--frames", "2.5"), ("--fps", "0"), ("--fps", "-1"), ("--fps", "nan"),
    ("--fps", "inf"), ("--batch-size", "0"), ("--workers", "-1"), ("--image-size", "0"), ("--short-side", "0"),
])
def test_extract_features_numbers_are_range_checked(videos, tmp_path, capsys, option, value):
    sampling = [] if option in ("--frames", "--fps") else ["--frames", "8"]
    argv = ["extract-features", "--videos", str(videos), "--cache", str(tmp_path / "cache"), "--arch", "ViT-B-16",
            "--pretrained", "openai", *sampling, option, value]
    code, err = run_cli(main, argv, capsys)
    assert code == 2
    assert last_line(err).startswith(f"unloc extract-features: error: argument {option}: must be")
    assert value in last_line(err)


# ---------------------------------------------------------------- item 11: every command, a user's mistakes


def test_extract_features_paths(videos, tmp_path, capsys):
    base = ["extract-features", "--cache", str(tmp_path / "cache"), "--arch", "ViT-B-16", "--pretrained", "openai",
            "--frames", "8"]
    (tmp_path / "afile").write_text("x")
    (tmp_path / "empty").mkdir()
    cases = [
        (["--videos", str(tmp_path / "nowhere")], "argument --videos: directory", "nowhere does not exist"),
        (["--videos", str(tmp_path / "afile")], "argument --videos:", "afile is a file, not a directory"),
        (["--videos", str(videos), "--ids-file", str(tmp_path / "empty")], "argument --ids-file:", "is a directory"),
        (["--videos", str(tmp_path / "empty")], "--videos: no video files", str(tmp_path / "empty")),
    ]
    for extra, start, named in cases:
        code, err = run_cli(main, [*base, *extra], capsys)
        line = last_line(err)
        assert code == 2 and line.startswith(f"unloc extract-features: error: {start}") and named in line, line
    code, err = run_cli(main, [*base[:2], str(tmp_path / "afile"), *base[3:], "--videos", str(videos)], capsys)
    assert code == 2 and "argument --cache:" in last_line(err) and "afile is a file" in last_line(err)
    arch_args = [*base[:4], str(tmp_path / "empty.json"), *base[5:], "--videos", str(videos)]
    (tmp_path / "empty.json").write_text("[1, 2]")
    code, err = run_cli(main, arch_args, capsys)
    assert code == 2 and last_line(err).endswith(f"--arch {tmp_path / 'empty.json'}: expected a JSON object "
                                                 "(open_clip's model config), got list")


def test_localize_window_top_k_device_and_paths(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    base = ["localize", "v.mp4", "--run", str(tmp_path)]
    cases = [
        (["--window-sec", "0"], "argument --window-sec: must be a number > 0 (or inf), got 0"),
        (["--window-sec", "-2"], "argument --window-sec: must be a number > 0 (or inf), got -2"),
        (["--top-k", "0"], "argument --top-k: must be an integer >= 1, got 0"),
        (["--device", "gpu7"], "argument --device: 'gpu7' is not a torch device"),
        (["--out", str(tmp_path)], f"argument --out: {tmp_path} is a directory; give a file name"),
        (["--classes-file", str(tmp_path)], f"argument --classes-file: {tmp_path} is a directory, not a file"),
    ]
    for extra, message in cases:
        code, err = run_cli(main, [*base, *extra], capsys)
        assert code == 2 and last_line(err).startswith(f"unloc localize: error: {message}"), err
    code, err = run_cli(main, ["localize", "v.mp4", "--run", str(tmp_path / "afile")], capsys)
    assert code == 2 and last_line(err) == f"unloc localize: error: argument --run: {tmp_path / 'afile'} is a file, " \
                                           "not a directory"
    code, err = run_cli(main, base, capsys)  # a directory that is no run: raised by the library, one line here
    assert (code, err) == (2, f"unloc localize: error: {tmp_path} is not a finished unloc run: config.yaml is missing\n")


def test_train_params_out_and_world_size(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "broken.yaml").write_text("tal:\n  train: [1\n")
    (tmp_path / "latin1.yaml").write_bytes("tal: {name: caf\xe9}\n".encode("latin-1"))
    cases = [
        (["--params", str(tmp_path / "broken.yaml"), "--stage", "tal"],
         f"{tmp_path / 'broken.yaml'}:3: not valid YAML (expected ',' or ']'"),
        (["--params", str(tmp_path / "latin1.yaml"), "--stage", "tal"],
         f"{tmp_path / 'latin1.yaml'}: not a UTF-8 text file"),
        (["--params", str(tmp_path), "--stage", "tal"], f"argument --params: {tmp_path} is a directory, not a file"),
        (["--params", str(tmp_path / "no.yaml"), "--stage", "tal"], "argument --params: file"),
        (["--paper", "qvh_b", "--out", str(tmp_path / "afile")], "argument --out:"),
        (["--paper", "qvh_b", "--world-size", "0"], "argument --world-size: must be an integer >= 1, got 0"),
        (["--paper", "qvh_b", "--set", "train.epochs=[1"], "--set 'train.epochs=[1': the value is not valid YAML"),
    ]
    for extra, message in cases:
        code, err = run_cli(main, ["train", *extra, "--print-config"], capsys)
        assert code == 2 and last_line(err).startswith(f"unloc train: error: {message}"), err
        assert "Traceback" not in err


def test_data_check_and_eval_directories_and_bad_files(tmp_path, capsys):
    annotations = tmp_path / "train.json"
    annotations.write_text(json.dumps({"database": {}}))
    code, err = run_cli(main, ["data", "check", str(annotations), "--classes", str(tmp_path)], capsys)
    assert code == 2 and last_line(err).startswith("unloc data check: error: ") and str(tmp_path) in last_line(err)
    code, err = run_cli(main, ["eval", "tal", "--gt", str(tmp_path), "--pred", str(tmp_path)], capsys)
    assert code == 2 and last_line(err).startswith("unloc eval tal: error: ") and str(tmp_path) in last_line(err)


def test_study_generate_and_notebook(tmp_path, capsys):
    existing = tmp_path / "world.txt"
    existing.write_text("not a folder")
    cases = [
        (["generate", "--out", str(existing)], f"argument --out: {existing} is a file, not a directory"),
        (["generate", "--out", str(tmp_path / "w"), "--seed", "-1"], "argument --seed: must be an integer >= 0"),
        (["generate", "--out", str(tmp_path / "w"), "--workers", "0"], "argument --workers: must be an integer >= 1"),
        (["generate", "--out", str(tmp_path / "w"), "--only", "kinetics,atlantis"],
         "--only: unknown mini-world dataset(s) atlantis"),
        (["generate", "--out", str(tmp_path / "w"), "--set", "kinetics.num_videos=many"],
         "--set kinetics.num_videos=many:"),
        (["notebook", str(tmp_path / "none.ipynb"), str(tmp_path / "out")], "argument notebook: file"),
        (["notebook", str(existing), str(tmp_path / "out")], f"{existing} is not a Jupyter notebook"),
        (["notebook", str(existing), str(existing)], f"argument out_dir: {existing} is a file"),
    ]
    for argv, message in cases:
        code, err = run_cli(study_main, argv, capsys)
        assert code == 2, err
        assert last_line(err).startswith(f"python -m unloc.study {argv[0]}: error: {message}"), err
    assert not (tmp_path / "w").exists()  # nothing generated before the arguments were checked


def test_eval_seg_fps_and_a_zero_crop_are_one_line(tmp_path, capsys):
    gt, pred = tmp_path / "gt.json", tmp_path / "pred.npz"
    gt.write_text("{}")
    pred.write_bytes(b"")
    for value in ("nan", "0", "-2", "fast"):
        code, err = run_cli(main, ["eval", "seg", "--gt", str(gt), "--pred", str(pred), "--fps", value], capsys)
        assert code == 2 and "argument --fps" in last_line(err), value
    params = tmp_path / "params.yaml"
    params.write_text("s: {task: {kind: tal}, data: {image: {crop_size: 0}}}\n")
    code, err = run_cli(main, ["train", "--params", str(params), "--stage", "s", "--print-config"], capsys)
    assert code == 2 and "crop_size must be >= 1" in last_line(err)
