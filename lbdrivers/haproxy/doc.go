// Package haproxy is a [drivers.LoadBalancer] for HAProxy, over its Runtime
// API (the "stats socket", on a unix socket or TCP). It sets the
// administrative state of the servers of one backend and reads their state,
// health and current sessions back. It also offers the optional
// [drivers.Switcher] capability.
//
// It is not a configuration manager: it never edits haproxy.cfg, adds or
// removes servers, or reloads HAProxy. Changes made over the Runtime API live
// in the running process only; keep the configuration (or a server-state
// file) in line if HAProxy may be reloaded during a deployment.
//
// # HAProxy setup
//
// The socket must be at level admin:
//
//	global
//	    stats socket /run/haproxy/admin.sock mode 600 level admin
//	    # or: stats socket ipv4@127.0.0.1:9999 level admin
//
// # Commands and state mapping
//
// The commands, replies and fields below are HAProxy's (HAProxy Management
// Guide, docs.haproxy.org: section 9.3 "Unix Socket commands" for "set
// server ... state ready|drain|maint", "show servers state" and "show stat";
// section 9.1 for the CSV columns; "stats socket ... level admin" in the
// Configuration Manual, section 3.1).
//
// Each call opens one connection, sends one request line (several commands
// separated by ";", the Runtime API's non-interactive mode), reads until
// HAProxy closes the connection and checks the reply of every command.
//
//	drivers.Serving   set server <backend>/<server> state ready
//	drivers.Draining  set server <backend>/<server> state drain
//	drivers.Out       set server <backend>/<server> state maint
//
// Status sends "show servers state <backend>;show stat <backend> 4 -1" and
// reads the admin state bits of srv_admin_state (HAProxy's maintenance mask
// 0x23, forced, inherited or DNS maintenance: Out; else its drain mask 0x18:
// Draining; else Serving — the configuration marker 0x04 of a server
// "disabled" in haproxy.cfg alone means it was set ready since), the health
// from srv_op_state (2 running: Healthy; otherwise Unhealthy; Unknown when the
// server has no health check or is in maintenance, where checks do not count)
// and the active connections from the scur column of the stat CSV (parsed by
// header name). ConnectionsKnown is always true.
//
// # Guarantees and limits
//
//   - Several members in one call are one request line. HAProxy does not roll
//     back a line when one command fails, so the driver first reads the
//     backend's servers and refuses the whole call with [drivers.ErrNotFound]
//     if any member is missing: an unknown member changes nothing (short of a
//     server removed between the two round trips).
//   - Switch sends the "ready" commands before the "drain" commands on one
//     line; the CLI runs them back to back. With nbthread 1 no request is
//     routed in between; with several threads another thread may route a
//     request to the drained set during the microseconds between commands.
//   - Member names are mapped to server names with Config.ServerName. Every
//     backend and server name is checked against HAProxy's own character set
//     (letters, digits, '-', '_', '.', ':') before anything is sent, so no
//     name can inject a command (no ';', '\', '/', whitespace or control
//     characters reach the socket).
//   - Every socket operation carries the deadline of the context (and
//     Config.Timeout); cancelling the context aborts the exchange.
//   - Errors: HAProxy's "No such server.", "No such backend.", "Can't find
//     backend." and "No such proxy." wrap [drivers.ErrNotFound]; "Permission
//     denied" (a socket below level admin) and a socket file the process
//     may not open wrap [drivers.ErrPermissionDenied]; a local unix socket
//     that is missing or refuses connections (no HAProxy listens on it) is a
//     configuration error, [drivers.ErrInvalidArgument], whose message names
//     the path and the "stats socket <path> ... level admin" line it needs
//     (retrying cannot fix it); a refused or unreachable TCP address wraps
//     [drivers.ErrUnavailable] (nothing was sent, HAProxy may be
//     restarting); an unknown command wraps
//     [drivers.ErrUnimplemented]. A failure after the request was sent is
//     never ErrUnavailable, since the change may have taken effect.
package haproxy
