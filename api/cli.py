"""The `tongban` command (CONTRACT.md §2): a thin adapter over the same services as the web and API."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from pathlib import Path
from typing import Any

from api.db import Database
from api.services.base import SYSTEM, Actor, ServiceContext, ServiceError
from api.settings import Settings, load_settings

CLI_INDEX_POOL_MB = 1024  # a one-off command may use the memory a serving worker must not


def _print(message: str) -> None:
    print(message, flush=True)


async def _context(db: Database, settings: Settings, actor: Actor) -> ServiceContext:
    from api.services.regions import load_tree

    async with db.read() as session:
        tree = await load_tree(session)
    if settings.home_region not in tree:
        raise ServiceError(
            f"TONGBAN_HOME_REGION={settings.home_region} 不是已载入的行政区划代码; 请先运行 tongban init"
        )
    return ServiceContext(actor=actor, tree=tree, home_city=settings.home_region)


async def initialise(settings: Settings, demo: bool, quiet: bool = False) -> dict[str, Any]:
    """Migrate, load the bundled regions, and with `demo` the bundled data and the search index."""
    from api import bundled, migrate
    from api.progress import ProgressBar
    from api.services.indexing import SearchService
    from api.services.regions import load_regions
    from api.services.transfer import import_document

    say = (lambda _m: None) if quiet else _print
    started = time.perf_counter()
    db = Database(settings.database_url)
    result: dict[str, Any] = {}
    try:
        await migrate.upgrade(db)
        async with db.write() as session:
            added = await load_regions(session, bundled.iter_regions())
        result["regions_added"] = added
        say(f"数据库已迁移到最新版本; 新增行政区划 {added} 个")
        if demo:
            ctx = await _context(
                db, settings, Actor(name="init", role=SYSTEM.role, region_code=None, via="init")
            )
            report = await import_document(
                db, ctx, bundled.demo_document(), progress=ProgressBar("载入演示数据")
            )
            result["import"] = report
            say(report.summary())
        search = SearchService(db, settings.index_dir)
        built = await search.ensure_current(progress=ProgressBar("建立搜索索引"), pool_mb=CLI_INDEX_POOL_MB)
        result["index"] = built
        say(f"搜索索引: {search.describe()}")
    finally:
        await db.dispose()
    result["seconds"] = time.perf_counter() - started
    say(f"完成, 用时 {result['seconds']:.1f} 秒")
    return result


async def _import(settings: Settings, path: Path, dry_run: bool) -> int:
    from api.progress import ProgressBar
    from api.services.imports import normalise_document
    from api.services.indexing import SearchService
    from api.services.transfer import import_document, read_document

    document = normalise_document(read_document(path))  # the staff template's Chinese headings read too
    db = Database(settings.database_url)
    try:
        ctx = await _context(
            db, settings, Actor(name="import", role=SYSTEM.role, region_code=None, via="import")
        )
        report = await import_document(db, ctx, document, dry_run=dry_run, progress=ProgressBar("导入"))
        _print(report.summary())
        if not dry_run:
            await SearchService(db, settings.index_dir).ensure_current()
    finally:
        await db.dispose()
    return 0


async def _export(settings: Settings, path: Path) -> int:
    from api.services.transfer import export_document, write_document

    db = Database(settings.database_url)
    try:
        document = await export_document(db)
    finally:
        await db.dispose()
    for written in write_document(document, path):
        _print(f"已写入 {written}")
    counts = ", ".join(f"{k} {len(v)}" for k, v in document.items())
    _print(f"导出: {counts}")
    return 0


async def _reindex(settings: Settings) -> int:
    from api.progress import ProgressBar
    from api.services.indexing import SearchService

    db = Database(settings.database_url)
    try:
        search = SearchService(db, settings.index_dir)
        started = time.perf_counter()
        await search.rebuild(progress=ProgressBar("重建索引"), pool_mb=CLI_INDEX_POOL_MB)
        _print(f"索引已重建: {search.describe()}, 用时 {time.perf_counter() - started:.1f} 秒")
    finally:
        await db.dispose()
    return 0


def _read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        second = getpass.getpass("再输入一次: ")
        if first != second:
            raise ServiceError("两次输入的密码不一致")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _user_add(settings: Settings, name: str, role: str, region: str) -> int:
    from api.services.users import add_user

    password = _read_password(f"{name} 的密码: ")
    db = Database(settings.database_url)
    try:
        ctx = await _context(db, settings, SYSTEM)
        async with db.write() as session:
            user = await add_user(session, SYSTEM, ctx.tree, ctx.home_city, name, password, role, region)
        _print(f"已创建账号 {user.name} ({role}, {ctx.tree.full_name(region)})")
    finally:
        await db.dispose()
    return 0


async def _token_add(settings: Settings, name: str, label: str | None) -> int:
    from api.services.users import add_token

    db = Database(settings.database_url)
    try:
        async with db.write() as session:
            token = await add_token(session, SYSTEM, name, label)
    finally:
        await db.dispose()
    print(token)
    return 0


def _tcp_socket(config: Any) -> Any:
    """A listening socket for one worker, bound with SO_REUSEPORT so that each worker has its own.

    Why its own: with one shared socket, asyncio accepts up to `backlog` connections per wake-up,
    so whichever worker wakes first takes a whole burst of keep-alive connections and the others
    idle (measured by bench/run.py: 2 workers answered the search page no faster than 1). With
    SO_REUSEPORT the kernel spreads new connections over the workers' sockets.

    Why IPPROTO_TCP is named: uvicorn creates its socket without it, and asyncio only sets
    TCP_NODELAY on sockets whose proto says TCP: every keep-alive response then waited ~40 ms for
    a delayed ACK (hello-world: 726 vs 6,490 req/s)."""
    import socket

    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    sock.set_inheritable(True)
    return sock


def _supervisor(config: Any) -> Any:
    """uvicorn's worker supervisor (signals, health checks, restarts, SIGHUP/SIGTTIN) unchanged,
    except that each worker it starts or restarts gets a socket of its own (`_tcp_socket`): it
    reads `self.sockets` every time it creates a worker, so that attribute hands out a new one."""
    from uvicorn.supervisors import Multiprocess

    class PerWorkerSockets(Multiprocess):
        @property  # type: ignore[override]
        def sockets(self) -> list[Any]:
            return [_tcp_socket(self.config)]

        @sockets.setter
        def sockets(self, _shared: list[Any]) -> None:
            pass  # the shared socket uvicorn would hand to every worker is not used

        def keep_subprocess_alive(self) -> None:
            """uvicorn's, then a replaced worker's live gauges leave /metrics (its counters stay)."""
            before = {process.pid for process in self.processes}
            super().keep_subprocess_alive()
            gone = before - {process.pid for process in self.processes}
            if gone:
                from api.metrics import worker_exited

                for pid in gone:
                    if pid is not None:
                        worker_exited(pid)

    probe = _tcp_socket(config)  # fail here, in the parent, when the address is taken
    probe.close()
    return PerWorkerSockets(config, sockets=[])


def _prepare_run_dir(settings: Settings) -> tuple[Path, bool]:
    """The folder the workers of this run share, made before any worker starts: prometheus-client's
    multiprocess files (`metrics/`, emptied: values of an earlier run must not add up), the rate
    limiter's buckets and the survey's answer windows. `TONGBAN_RUN_DIR` names it (systemd's RuntimeDirectory); else a temporary
    folder, removed on exit. Workers find both through the environment they inherit."""
    import os
    import shutil
    import tempfile

    from api.middleware import SharedBuckets

    created = settings.run_dir is None
    run_dir = Path(tempfile.mkdtemp(prefix="tongban-run-")) if settings.run_dir is None else settings.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics_dir = run_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    SharedBuckets.create(run_dir / SharedBuckets.FILE_NAME)
    from web.survey import SharedSubmissionLimiter  # the survey's answer windows, likewise shared

    SharedSubmissionLimiter.create(run_dir / SharedSubmissionLimiter.FILE_NAME)
    os.environ["TONGBAN_RUN_DIR"] = str(run_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return run_dir, created


def _serve(settings: Settings, host: str, port: int, workers: int) -> int:
    import os
    import shutil

    import uvicorn

    from api.observability import configure_logging

    saved = {name: os.environ.get(name) for name in ("TONGBAN_RUN_DIR", "PROMETHEUS_MULTIPROC_DIR")}
    run_dir, created = _prepare_run_dir(settings)
    configure_logging(settings)
    try:
        return _run_uvicorn(uvicorn, host, port, workers)
    finally:
        if created:
            shutil.rmtree(run_dir, ignore_errors=True)
        for name, value in saved.items():  # as it was: an embedding process goes on
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_uvicorn(uvicorn: Any, host: str, port: int, workers: int) -> int:
    config = uvicorn.Config(
        "api.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        log_level="info",
        log_config=None,  # api.observability.configure_logging: text or JSON lines, with request ids
        access_log=False,  # the app writes its own access line (route, status, time, request id)
    )
    if workers <= 1:
        uvicorn.Server(config).run()
        return 0
    _supervisor(config).run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tongban", description="台州市跨区域通办服务目录 (一地签约、全市共享)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="迁移数据库并载入行政区划; --demo 同时载入演示数据并建立搜索索引")
    init.add_argument("--demo", action="store_true", help="载入内置的真实数据与标注为示例的演示数据")

    serve = commands.add_parser("serve", help="启动网站和 GraphQL 接口")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    imp = commands.add_parser("import", help="导入 .json / .csv / .xlsx 文件(全部成功或全部不写入)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="只检查, 不写入")

    exp = commands.add_parser("export", help="导出全部事项、大厅、协议和合作地区指数")
    exp.add_argument("file", type=Path)

    commands.add_parser("reindex", help="从数据库重建搜索索引")

    user = commands.add_parser("user", help="工作人员账号")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    user_add = user_commands.add_parser("add", help="创建账号(密码从标准输入读取)")
    user_add.add_argument("name")
    user_add.add_argument("--role", required=True, choices=["admin", "county", "partner"])
    user_add.add_argument("--region", required=True, help="行政区划代码")

    token = commands.add_parser("token", help="接口令牌")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    token_add = token_commands.add_parser("add", help="为账号生成新的接口令牌并打印")
    token_add.add_argument("name")
    token_add.add_argument("--label")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    try:
        if args.command == "init":
            asyncio.run(initialise(settings, demo=args.demo))
            return 0
        if args.command == "serve":
            return _serve(settings, args.host, args.port, args.workers)
        if args.command == "import":
            return asyncio.run(_import(settings, args.file, args.dry_run))
        if args.command == "export":
            return asyncio.run(_export(settings, args.file))
        if args.command == "reindex":
            return asyncio.run(_reindex(settings))
        if args.command == "user":
            return asyncio.run(_user_add(settings, args.name, args.role, args.region))
        if args.command == "token":
            return asyncio.run(_token_add(settings, args.name, args.label))
    except ServiceError as exc:
        print(f"错误 [{exc.code}]: {exc.describe()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
