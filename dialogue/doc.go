/*
Package dialogue keeps the conversations SCOPE interprets, on the device, in one bbolt
file, and hands the recent turns to the recogniser and the translator as context.

# Model

There are only a few types: Store, Conversation, Turn and Hypothesis.

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
text; Wipe (and WipeFile, for a file no process has open) destroys everything by
overwriting the file with zeros and removing it.

# Schema

The file records its schema version. Open runs the pending migrations, each in the same
transaction as the version bump, and refuses a file from a newer scope
(ErrSchemaTooNew), another program's bbolt file, a truncated file or a file that is not
bbolt at all (ErrNotStore), with the path and what to do in the message.

# Caveats

Deleted records' bytes stay in bbolt's free pages until reused; only Wipe guarantees
they are gone from the file. Large embeddings or very long conversations are fine, but
a single turn must stay below bbolt's value limit (about 2 GB). Errors wrap the package's
error values (ErrNotFound, ErrInvalid, ...); test them with errors.Is.
*/
package dialogue
