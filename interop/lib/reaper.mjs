// No child process of the suite (the server, Strophe clients) may outlive
// the test process, however it ends: normally, on a failed assertion, or
// stopped by a signal.

const children = new Set();

function killAll() {
    for (const child of children) {
        child.kill('SIGKILL');
    }
}

process.on('exit', killAll);
// A signal ends the process without 'exit' handlers unless it is handled;
// exit with the conventional status so they run.
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
    process.once(signal, () => process.exit(128 + number));
}

/** Kills child (SIGKILL) when this process ends, unless it has exited first. */
export function reap(child) {
    children.add(child);
    child.once('exit', () => children.delete(child));
}
