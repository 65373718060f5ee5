#!/usr/bin/python3
"""The desktop's notification service, as WebKitGTK talks to it: org.freedesktop.Notifications
(the Desktop Notifications Specification, 1.2) on the session bus this process is started on.

WebKitGTK hands every notification a page or a service worker shows to this service over D-Bus,
the one part of a desktop that a headless run lacks. It records each one and plays the user:
- stdout: one JSON object a line: {"event": "ready"} once the name is owned, then
  {"event": "notify", "id", "replaces", "summary", "body", "actions"} for each Notify and
  {"event": "closed", "id", "reason"} for each close (reason 2: the user's, 3: the app's).
- stdin: `click ID` is the user's click on notification ID (the ActionInvoked signal with its
  default action, which WebKit turns into `notificationclick`), `close ID` the user's close
  (NotificationClosed with reason 2, which WebKit turns into `notificationclose`).

WebKit asks for the capabilities synchronously with a 20 ms timeout when it shows its first
notification, and shows none at all when the answer is late: the process asks the scheduler
for a head start where it may.
"""
import json
import os
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

INTERFACE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
XML = f"""
<node>
  <interface name="{INTERFACE}">
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="Notify">
      <arg type="s" name="app_name" direction="in"/>
      <arg type="u" name="replaces_id" direction="in"/>
      <arg type="s" name="app_icon" direction="in"/>
      <arg type="s" name="summary" direction="in"/>
      <arg type="s" name="body" direction="in"/>
      <arg type="as" name="actions" direction="in"/>
      <arg type="a{{sv}}" name="hints" direction="in"/>
      <arg type="i" name="expire_timeout" direction="in"/>
      <arg type="u" direction="out"/>
    </method>
    <method name="CloseNotification"><arg type="u" name="id" direction="in"/></method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
    <signal name="NotificationClosed"><arg type="u"/><arg type="u"/></signal>
    <signal name="ActionInvoked"><arg type="u"/><arg type="s"/></signal>
  </interface>
</node>
"""
USERS_CLOSE, APPS_CLOSE = 2, 3

connection = None
open_ids = set()
last_id = 0


def record(**event):
    print(json.dumps(event), flush=True)


def emit(signal, value):
    connection.emit_signal(None, PATH, INTERFACE, signal, value)


def closed(notification, reason):
    if notification in open_ids:
        open_ids.discard(notification)
        emit("NotificationClosed", GLib.Variant("(uu)", (notification, reason)))
        record(event="closed", id=notification, reason=reason)


def on_call(_connection, _sender, _path, _interface, method, parameters, invocation):
    global last_id
    if method == "GetCapabilities":
        invocation.return_value(GLib.Variant("(as)", (["actions", "body"],)))
    elif method == "Notify":
        _app, replaces, _icon, summary, body, actions, _hints, _timeout = parameters.unpack()
        if replaces in open_ids:
            notification = replaces
        else:
            last_id += 1
            notification = last_id
        open_ids.add(notification)
        invocation.return_value(GLib.Variant("(u)", (notification,)))
        record(event="notify", id=notification, replaces=replaces, summary=summary, body=body, actions=actions)
    elif method == "CloseNotification":
        (notification,) = parameters.unpack()
        invocation.return_value(None)
        closed(notification, APPS_CLOSE)
    elif method == "GetServerInformation":
        invocation.return_value(GLib.Variant("(ssss)", ("usernotify-tests", "usernotify", "1", "1.2")))


def on_command(channel, _condition):
    line = channel.readline()
    if not line:
        loop.quit()
        return False
    command, _, argument = line.strip().partition(" ")
    if argument.isdigit() and int(argument) in open_ids:
        notification = int(argument)
        if command == "click":
            emit("ActionInvoked", GLib.Variant("(us)", (notification, "default")))
        elif command == "close":
            closed(notification, USERS_CLOSE)
    return True


def on_bus(bus, _name):
    global connection
    connection = bus
    info = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]
    bus.register_object(PATH, info, on_call, None, None)


try:
    os.setpriority(os.PRIO_PROCESS, 0, -10)
except OSError:
    pass
loop = GLib.MainLoop()
Gio.bus_own_name(
    Gio.BusType.SESSION,
    INTERFACE,
    Gio.BusNameOwnerFlags.DO_NOT_QUEUE,
    on_bus,
    lambda *_: record(event="ready"),
    lambda *_: (record(event="error", message=f"cannot own {INTERFACE}"), loop.quit()),
)
stdin = GLib.IOChannel.unix_new(sys.stdin.fileno())
GLib.io_add_watch(stdin, GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP, on_command)
loop.run()
