"""Plugin sources the CLI tests write to files: policies that break the rules."""

#: a policy whose offline work raises
BOOMER = """\
from slabpolicy import PolicySpec, hookimpl


class Boomer:
    def __init__(self, options):
        pass

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        raise RuntimeError("boom")


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(name="boomer", version="0.1", description="raises at offline",
                       factory=Boomer)]
"""
