package inspect

// maxPipelined bounds the commands of a flow awaiting their replies;
// replies to commands beyond are not matched.
const maxPipelined = 16

// CommandQueue pairs the commands of a line protocol whose server answers
// each command with one final reply, in order (FTP, RFC 959 section 4.2;
// POP3, RFC 2449 PIPELINING), with those replies, and keeps the logins
// the commands carried until then: a client may send several logins
// before the first verdict. K is the protocol's own kinds of command.
//
// After a gap in either direction replies can no longer be matched to
// commands: every later verdict is unknown.
type CommandQueue[K ~uint8] struct {
	cmds       [maxPipelined]QueuedCommand[K]
	head, size int
	// dropped counts commands not queued (the queue was full) whose
	// replies are still due after the queued ones'; while any are, new
	// commands are not queued either, so that replies stay in order.
	dropped  int
	unpaired bool // a gap: verdicts are unknown from then on
	logins   loginQueue
}

// QueuedCommand is a command awaiting its reply.
type QueuedCommand[K ~uint8] struct {
	Kind   K
	ticket uint32 // of the login it carried; 0: none
}

// Push queues a command and returns its slot, -1 with the queue full.
func (q *CommandQueue[K]) Push(kind K) int {
	if q.size == len(q.cmds) || q.dropped > 0 {
		q.dropped++
		return -1
	}
	slot := (q.head + q.size) % len(q.cmds)
	q.cmds[slot] = QueuedCommand[K]{Kind: kind}
	q.size++
	return slot
}

// Login classifies l at once and keeps it for the reply to the command in
// slot; a command that was not queued (slot -1) gets no verdict: it is
// reported at once, and the logins waiting keep theirs.
func (q *CommandQueue[K]) Login(f *Flow, l *Login, slot int) {
	if slot < 0 || slot >= len(q.cmds) {
		c := f.Classify(l)
		f.ReportCredential(&c, OutcomeUnknown, f.LoginSubject())
		return
	}
	q.cmds[slot].ticket = q.logins.keep(f, l)
}

// Next returns the oldest command awaiting its reply.
func (q *CommandQueue[K]) Next() (QueuedCommand[K], bool) {
	if q.size == 0 {
		return QueuedCommand[K]{}, false
	}
	return q.cmds[q.head], true
}

// Pop takes the oldest command off the queue: a final reply answers it.
// A reply to a command that was not queued answers none (false).
func (q *CommandQueue[K]) Pop() (QueuedCommand[K], bool) {
	c, ok := q.Next()
	switch {
	case ok:
		q.head = (q.head + 1) % len(q.cmds)
		q.size--
	case q.dropped > 0:
		q.dropped--
	}
	return c, ok
}

// Settle reports the login c carried, if any, with the reply's verdict o.
func (q *CommandQueue[K]) Settle(f *Flow, c QueuedCommand[K], o Outcome) {
	if q.unpaired {
		o = OutcomeUnknown
	}
	q.logins.settle(f, c.ticket, o)
}

// Lost forgets the queued commands when the conversation lost its place
// (a gap): replies can no longer be matched, so the logins waiting are
// reported, their outcome unknown, and so are the later ones.
func (q *CommandQueue[K]) Lost(f *Flow) {
	q.head, q.size, q.dropped, q.unpaired = 0, 0, 0, true
	q.logins.flush(f)
}

// Close reports the logins still waiting, their outcome unknown.
func (q *CommandQueue[K]) Close(f *Flow) { q.logins.flush(f) }

// maxQueuedLogins bounds the logins of pipelined commands awaiting
// their verdicts in one flow.
const maxQueuedLogins = 4

// loginQueue holds the logins of a CommandQueue's commands until the
// server's verdicts. Each login gets a ticket, kept with its command; the
// reply to that command settles it. Like PendingLogin, only classified
// Credentials wait.
type loginQueue struct {
	creds      [maxQueuedLogins]Credential
	tickets    [maxQueuedLogins]uint32
	head, size int
	last       uint32 // the last ticket given; 0 is none
}

// keep classifies l, queues it and returns its ticket, never 0. With
// the queue full, the oldest login is reported first, its outcome
// unknown.
func (q *loginQueue) keep(f *Flow, l *Login) uint32 {
	if q.size == len(q.creds) {
		q.reportHead(f, OutcomeUnknown)
	}
	q.last++
	if q.last == 0 {
		q.last = 1
	}
	i := (q.head + q.size) % len(q.creds)
	q.creds[i], q.tickets[i] = f.Classify(l), q.last
	q.size++
	return q.last
}

// settle reports the login of ticket t with outcome o, if it is still
// queued. Logins queued before it, whose replies were not seen, are
// reported with their outcome unknown.
func (q *loginQueue) settle(f *Flow, t uint32, o Outcome) {
	if t == 0 {
		return
	}
	for q.size > 0 && ticketBefore(q.tickets[q.head], t) {
		q.reportHead(f, OutcomeUnknown)
	}
	if q.size > 0 && q.tickets[q.head] == t {
		q.reportHead(f, o)
	}
}

// flush reports every queued login, its outcome unknown.
func (q *loginQueue) flush(f *Flow) {
	for q.size > 0 {
		q.reportHead(f, OutcomeUnknown)
	}
}

func (q *loginQueue) reportHead(f *Flow, o Outcome) {
	c := q.creds[q.head]
	q.creds[q.head], q.tickets[q.head] = Credential{}, 0
	q.head = (q.head + 1) % len(q.creds)
	q.size--
	f.ReportCredential(&c, o, f.LoginSubject())
}

// ticketBefore compares tickets in serial-number arithmetic, so that
// the wrap of a long-lived flow's counter keeps the order.
func ticketBefore(a, b uint32) bool { return int32(a-b) < 0 }
