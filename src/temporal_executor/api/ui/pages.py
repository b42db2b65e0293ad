"""The console's routes: one HTML page per view (rendered from `templates/`) and the static
assets under `/ui/static/`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ... import __version__

__all__ = ["mount_ui"]

_HERE = Path(__file__).parent
_templates = Jinja2Templates(directory=_HERE / "templates")
router = APIRouter(include_in_schema=False)


def _render(request: Request, template: str, title: str, nav: str, **extra: str) -> HTMLResponse:
    context = {"title": title, "nav": nav, "version": __version__, **extra}
    response = _templates.TemplateResponse(request, template, context)
    # The pages are the same for everyone; the data behind them is fetched fresh.
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get("/ui")
async def ui_root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/")
async def tasks_page(request: Request) -> HTMLResponse:
    return _render(request, "tasks.html", "Tasks", "tasks")


@router.get("/ui/tasks/{task_id}")
async def task_page(request: Request, task_id: str) -> HTMLResponse:
    return _render(request, "task.html", f"Task {task_id}", "tasks", task_id=task_id)


@router.get("/ui/approvals")
async def approvals_page(request: Request) -> HTMLResponse:
    return _render(request, "approvals.html", "Approvals", "approvals")


@router.get("/ui/schedules")
async def schedules_page(request: Request) -> HTMLResponse:
    return _render(request, "schedules.html", "Schedules", "schedules")


@router.get("/ui/new")
async def new_task_page(request: Request) -> HTMLResponse:
    return _render(request, "new.html", "New task", "new")


@router.get("/ui/login")
async def login_page(request: Request) -> HTMLResponse:
    return _render(request, "login.html", "Sign in", "login")


def mount_ui(app: FastAPI) -> None:
    """Serve the console's pages and assets on `app`."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=_HERE / "static"), name="ui-static")
