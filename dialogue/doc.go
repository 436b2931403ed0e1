/*
Package dialogue keeps the conversations SCOPE interprets, on the device, in one bbolt
file, and hands the recent turns to the recogniser and the translator as context.

# Model

The main types are few: Store, Conversation, Turn and Hypothesis.

A Store is one file (FileMode 0600, since it holds what people said). Open creates it
or brings it to the current schema, and Close releases it; only one process may have it
open, so command-line tools fail with ErrInUse while the daemon runs.

A Conversation is a dialogue at one device in one domain ("pharmacy"), created by
StartConversation. A Turn is one utterance in it: who spoke (SpeakerSigner or
SpeakerHearing), the text, for the signer the recogniser's top-k gloss Hypotheses with
their scores, when it started and ended, and the model bundle version that produced it.
AppendTurn numbers turns 1, 2, 3, ... within their conversation.

Data enters through StartConversation, AppendTurn and PutEmbedding, and leaves through
ContextWindow (the last turns that fit a turn and token budget, oldest first: what the
stages read), Turns, Conversations, Export (a JSON document) and Embedding (cached
sentence embeddings, keyed by the SHA-256 of the text and the model version).

# Concurrency

bbolt allows one write transaction at a time and any number of read transactions
beside it, each on a consistent snapshot. Every Store method is one transaction and
returns copies, so nothing is held while a caller runs inference on a context window,
and a reader never sees half of an AppendTurn.

# Durability

AppendTurn returns after its transaction is committed and synced: if the process is
killed (or the device loses power, given a disk that honours fsync) after that, the turn
is there when the file is reopened; a transaction cut short leaves no trace. A turn, its
conversation's counters and the retention index change in the same transaction, so they
always agree. Check verifies this on a whole file. The tests kill a writer process with
SIGKILL at many points and check the reopened file.

# Privacy

Options.Retention deletes conversations whose last turn is older than the period, and
cached embeddings older than it, at Open and then on a timer (Sweep runs it by hand).
DeleteConversation deletes one conversation with its turns and the embeddings of their
text. Since bbolt frees pages without overwriting them, both then rewrite the file
without its free pages (a compaction into a new file that is renamed over the old one),
so deleted text is gone from the file and not just unreachable. Wipe (and WipeFile, for
a file no process has open, even a damaged one) destroys everything by overwriting the
file with zeros and removing it.

# Schema

The file records its schema version. Open runs the pending migrations (the ordered list
in schema.go: append a step, never edit one), each in the same transaction as the
version bump, and refuses a file from a newer scope
(ErrSchemaTooNew), another program's bbolt file, a truncated file or a file that is not
bbolt at all (ErrNotStore), with the path and what to do in the message.

Schema 2 added, as JSON fields that are omitted when empty: on a turn, the Bundle that
produced it (version and content hash; migration 2 moves schema 1's model_version into
it), the confidence gate's Confidence and name, Unsure with its Alternatives and the
signer's answer (Confirmed or Rejected), and InterpreterRequest; on a conversation, when
and why it Ended (migration 2 ends schema 1's conversations at their last activity).
ContextWindow leaves out turns that are not dialogue (Turn.IsContext): unconfirmed or
rejected sentences and interpreter requests. A developer who adds a turn field adds it
the same way, with a migration step when old records need a value other than empty.

# Caveats

DeleteConversation and a Sweep that deleted something copy the whole file, and readers
and the writer wait meanwhile: cheap for a device's store (megabytes), noticeable for
gigabytes. Only one process may open the file; a second Open fails with ErrInUse after
Options.LockTimeout. Overwriting a file does not reach below the file system (flash
wear levelling, snapshots); use full-disk encryption where that matters. Errors wrap the
package's error values (ErrNotFound, ErrInvalid, ErrNotStore, ...); test them with
errors.Is.
*/
package dialogue
