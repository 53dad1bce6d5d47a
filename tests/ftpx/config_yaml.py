"""ftpproxy.yaml written by the tests (tests/supervisor, tests/netns)."""
import json


def render_yaml(global_settings, instances, cluster=None):
    """The small subset of YAML the tests need: scalars, one level of maps,
    lists of words (reload_command, backend lists), flow maps of scalars
    (health_check)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {value(x)}" for k, x in v.items()) + "}"
        return json.dumps(v) if isinstance(v, str) else str(v)
    lines = ["global:"]
    lines += [f"  {k}: {value(v)}" for k, v in global_settings.items()]
    lines.append("instances:")
    for inst in instances:
        first = True
        for k, v in inst.items():
            lines.append(("  - " if first else "    ") + f"{k}: {value(v)}")
            first = False
    if not instances:
        lines[-1] = "instances: []"
    if cluster:
        lines.append("cluster:")
        lines += [f"  {k}: {value(v)}" for k, v in cluster.items()]
    return "\n".join(lines) + "\n"
