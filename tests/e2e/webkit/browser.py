#!/usr/bin/python3
"""A small WebKitGTK browser (WebKit2 4.1) that WebKitWebDriver starts in MiniBrowser's place
(tests/e2e/webkit.mjs passes it as `webkitgtk:browserOptions.binary`).

The stock MiniBrowser cannot show notifications under automation: with `--automation` it keeps
its website data in an ephemeral session, where WebKit answers every permission check with
default or denied, and WebDriver has no command to grant one. This browser keeps its data in a
persistent store (a directory the harness makes and removes) and grants notifications to the
origins it is given, as a user who clicked "Allow" would have.

Arguments: `--automation` (WebKitWebDriver's; automation is always allowed here),
`--data-dir=DIR`, and `--allow-notifications=ORIGIN` once per origin.
"""
import argparse
import signal

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--automation", action="store_true")
parser.add_argument("--data-dir", required=True)
parser.add_argument("--allow-notifications", action="append", default=[])
options, _ = parser.parse_known_args()

manager = WebKit2.WebsiteDataManager(
    base_data_directory=f"{options.data_dir}/data",
    base_cache_directory=f"{options.data_dir}/cache",
)
context = WebKit2.WebContext.new_with_website_data_manager(manager)
context.set_automation_allowed(True)


def grant_notifications(web_context):
    allowed = [WebKit2.SecurityOrigin.new_for_uri(origin) for origin in options.allow_notifications]
    web_context.initialize_notification_permissions(allowed, [])


def allow_notification_request(_view, request):
    if isinstance(request, WebKit2.NotificationPermissionRequest):
        request.allow()
        return True
    return False


def new_view(_session=None):
    """A view in a window of its own, for each window the WebDriver session opens."""
    view = WebKit2.WebView(web_context=context, is_controlled_by_automation=True)
    view.connect("permission-request", allow_notification_request)
    window = Gtk.Window()
    window.set_default_size(1280, 800)
    window.add(view)
    view.connect("close", lambda _view: window.destroy())
    window.show_all()
    return view


def automation_started(_context, session):
    info = WebKit2.ApplicationInfo()
    info.set_name("usernotify-webkit")
    info.set_version(WebKit2.get_major_version(), WebKit2.get_minor_version(), WebKit2.get_micro_version())
    session.set_application_info(info)
    session.connect("create-web-view", new_view)
    session.connect("will-close", lambda _session: Gtk.main_quit())


context.connect("initialize-notification-permissions", grant_notifications)
context.connect("automation-started", automation_started)
for stop in (signal.SIGINT, signal.SIGTERM):
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, stop, Gtk.main_quit)
Gtk.main()
