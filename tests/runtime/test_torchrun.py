import os

import pytest
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

from ganforge.runtime import torchrun


def failing_with(*codes, said=()):
    """torchrun's run, as ranks that exit with `codes`, the ranks in `said` leaving (rank, message) refusals."""

    def run(args):
        for rank, message in said:
            os.environ["RANK"] = str(rank)
            assert torchrun.leave_refusal(message)
        failures = {rank: ProcessFailure(local_rank=rank, pid=1000 + rank, exitcode=code, error_file="")
                    for rank, code in enumerate(codes)}  # fmt: skip
        raise ChildFailedError("ganforge", failures)

    return run


BAD = "label_smoothing moves D's label for real data"


@pytest.mark.parametrize("codes, said, exit_code, lines, summary", [
    # every rank refused alike: one line, nothing added
    ((2, 2), [(0, BAD), (1, BAD)], 2, [f"ganforge: error: {BAD}"], False),
    # rank 1 refused first and torchrun stopped rank 0 before it could say anything: still rank 1's line, and 2
    ((-15, 2), [(1, BAD)], 2, [f"ganforge: error: {BAD}"], False),
    # ranks that refused differently: each message once, with its rank
    ((2, 2), [(0, "no images in /a"), (1, "no images in /b")], 2,
     ["ganforge: error: (rank 0) no images in /a", "ganforge: error: (rank 1) no images in /b"], False),
    # a crash beside a refusal: the refusal, then torchrun's summary, and the crash's code
    ((2, 1), [(0, BAD)], 1, [f"ganforge: error: {BAD}"], True),
    ((-15, 143), [], 143, [], True),  # a scheduler's SIGTERM: no refusal, the summary and the 128 + 15
    ((-9,), [], 1, [], True),  # killed by a signal: no positive code to pass on
])  # fmt: skip
def test_the_launchers_exit_code_and_what_it_prints(monkeypatch, capsys, codes, said, exit_code, lines, summary):
    monkeypatch.setenv("RANK", "0")  # (restored after the fake ranks set it)
    monkeypatch.setattr("torch.distributed.run.run", failing_with(*codes, said=said))
    assert torchrun.main(["--standalone", "--nproc_per_node=2", "-m", "ganforge", "train"]) == exit_code
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("ganforge: error:")] == lines
    assert ("exitcode" in err) is summary and "Traceback" not in err
    assert torchrun.REFUSALS_ENV not in os.environ  # the folder is gone with the launcher


def test_a_run_that_succeeds_exits_0(monkeypatch):
    seen = []
    monkeypatch.setattr("torch.distributed.run.run", lambda args: seen.append(args.nproc_per_node))
    assert torchrun.main(["--standalone", "--nproc_per_node=2", "-m", "ganforge", "train"]) == 0
    assert seen == ["2"]


def test_outside_the_launcher_a_rank_keeps_its_refusal_to_print(monkeypatch, tmp_path):
    monkeypatch.delenv(torchrun.REFUSALS_ENV, raising=False)
    assert not torchrun.leave_refusal("anything")
    monkeypatch.setenv(torchrun.REFUSALS_ENV, str(tmp_path / "gone"))  # a launcher that has ended
    assert not torchrun.leave_refusal("anything")
