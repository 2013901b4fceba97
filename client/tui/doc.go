// Package tui is the terminal front end of the bundled client: panes for
// the merged participant list and the chat, an input line taking plain text
// (said in the room) and slash commands, and a status bar with the Chat and
// Voice connection states. It runs on bubbletea v2 with lipgloss and
// bubbles, drives client.Client through the same command language as
// script mode, and fits an 80×24 terminal (over ssh too).
package tui
