import pytest
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

from ganforge.runtime import torchrun


def failing_with(*codes):
    def run(args):
        failures = {rank: ProcessFailure(local_rank=rank, pid=1000 + rank, exitcode=code, error_file="")
                    for rank, code in enumerate(codes)}  # fmt: skip
        raise ChildFailedError("ganforge", failures)

    return run


@pytest.mark.parametrize("codes, exit_code, summary", [
    ((2, 2), 2, False),  # every rank refused: rank 0 printed the one line, nothing to add
    ((2, 1), 1, True),   # a crash beside a refusal: torchrun's summary, the crash's code
    ((-15, 143), 143, True),
    ((-9,), 1, True),    # killed by a signal: no positive code to pass on
])  # fmt: skip
def test_the_launchers_exit_code_and_what_it_prints(monkeypatch, capsys, codes, exit_code, summary):
    monkeypatch.setattr("torch.distributed.run.run", failing_with(*codes))
    assert torchrun.main(["--standalone", "--nproc_per_node=2", "-m", "ganforge", "train"]) == exit_code
    err = capsys.readouterr().err
    assert ("exitcode" in err) is summary and "Traceback" not in err


def test_a_run_that_succeeds_exits_0(monkeypatch):
    seen = []
    monkeypatch.setattr("torch.distributed.run.run", lambda args: seen.append(args.nproc_per_node))
    assert torchrun.main(["--standalone", "--nproc_per_node=2", "-m", "ganforge", "train"]) == 0
    assert seen == ["2"]
