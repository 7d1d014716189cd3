"""``pixelforge queue``: your queue on a running server (list, cancel, move, retry), over the native API.

A queue lives in a server, so this command needs one (``--server URL``, ``$PIXELFORGE_SERVER``, or a local
``pixelforge serve``); it imports no engine and answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from typing import Any

from pixelforge.cli.client import Server, ServerError, ServerUnreachable, find_server
from pixelforge.cli.common import EXIT_FAILED, EXIT_OK, UsageError
from pixelforge.tasks.queue_order import MOVES

# HTTP answers that mean the request itself was wrong (exit code 2).
REFUSED = {400, 403, 404, 409, 422}


def _server(args: argparse.Namespace) -> Server:
    server = find_server(args.server)
    if server is None:
        raise UsageError("no pixelforge server is running: start `pixelforge serve`, or name one with --server URL")
    return server


def _task_path(task_id: str) -> str:
    return f"/api/v1/tasks/{urllib.parse.quote(task_id, safe='')}"


def _describe(task: dict[str, Any]) -> str:
    starts = task.get("starts_in_s")
    when = f"starts in ~{_duration(starts)}" if starts is not None else "start not known yet"
    if task["state"] == "running":
        when = task["progress"]["textinfo"]
    prompt = task["params"]["prompt"]
    return f"{task.get('position') or '-':>3}  {task['id']}  {task['state']:<8} {when}  {prompt[:40]!r}"


def _duration(seconds: float) -> str:
    return f"{round(seconds)} s" if seconds < 90 else f"{round(seconds / 60)} min"


def cmd_queue(args: argparse.Namespace) -> int:
    server = _server(args)
    try:
        return _run(server, args)
    except ServerError as exc:
        if exc.status in REFUSED:
            raise UsageError(str(exc)) from exc
        print(f"pixelforge: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ServerUnreachable as exc:
        print(f"pixelforge: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _run(server: Server, args: argparse.Namespace) -> int:
    if args.queue_command == "cancel":
        if args.ids:
            ended = [server.json("DELETE", _task_path(task_id))["id"] for task_id in args.ids]
        else:
            body = {"scope": "all" if args.all else "queued", "everyone": args.everyone}
            ended = server.json("POST", "/api/v1/queue/cancel", body)["ended"]
        print(json.dumps({"ended": ended}) if args.json else "\n".join(ended) or "nothing to cancel")
        return EXIT_OK
    if args.queue_command == "move":
        task = server.json("POST", f"{_task_path(args.id)}/move", {"to": args.to})
        print(json.dumps(task) if args.json else f"{task['id']}: now {task['position']} in the queue")
        return EXIT_OK
    if args.queue_command == "retry":
        task = server.json("POST", f"{_task_path(args.id)}/retry")
        print(json.dumps(task) if args.json else task["id"])
        return EXIT_OK
    if args.queue_command == "stop-after-image":
        task = server.json("POST", f"{_task_path(args.id)}/interrupt", {"when": "after_job"})
        print(json.dumps(task) if args.json else f"{task['id']}: {task['state']}, stopping after this image")
        return EXIT_OK
    mine = [server.json("GET", _task_path(entry["id"])) for entry in server.json("GET", "/api/v1/queue")["mine"]]
    running = server.json("GET", "/api/v1/tasks?state=running&limit=200")["tasks"]
    tasks = running + mine
    if args.json:
        print(json.dumps(tasks))
    else:
        print("\n".join(_describe(task) for task in tasks) or "nothing queued or running")
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    queue = commands.add_parser(
        "queue", help="your queue on a running server: list, cancel, move, retry",
        description="Your tasks on a running pixelforge server: what runs, what waits and when it likely starts; "
        "cancel them (one, every queued one, or with --all the running one too), move a queued one among yours, "
        "retry a failed, interrupted or "
        "cancelled one, or stop a running one after its current image.")
    # Every verb takes these, after its name as before it (`pixelforge queue list --json`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", metavar="URL", help="the server (default: $PIXELFORGE_SERVER, else a local "
                        "`pixelforge serve`)")
    common.add_argument("--json", action="store_true", help="print JSON")
    verbs = queue.add_subparsers(dest="queue_command", metavar="VERB")
    verbs.add_parser("list", parents=[common], help="what runs and what waits, in queue order (the default)")
    cancel = verbs.add_parser("cancel", parents=[common],
                              help="cancel tasks: the ones named, else every queued one of yours")
    cancel.add_argument("ids", nargs="*", metavar="TASK", help="task ids (default: your whole queue)")
    cancel.add_argument("--all", action="store_true", help="interrupt your running task too")
    cancel.add_argument("--everyone", action="store_true", help="admins: every identity's tasks")
    move = verbs.add_parser("move", parents=[common],
                            help="move a queued task among your queued tasks (an admin key's 'front': run it next)")
    move.add_argument("id", metavar="TASK")
    move.add_argument("to", choices=MOVES, help="front, up, down or back")
    retry = verbs.add_parser("retry", parents=[common],
                             help="run a failed, interrupted or cancelled task again (prints the new id)")
    retry.add_argument("id", metavar="TASK")
    after = verbs.add_parser("stop-after-image", parents=[common],
                             help="let a running task finish its current image, then stop")
    after.add_argument("id", metavar="TASK")
    queue.set_defaults(handler=cmd_queue, queue_command="list", server=None, json=False)
