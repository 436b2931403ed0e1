package dialogue

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ExportFormat names the JSON document Export writes; it changes only when its meaning does.
const ExportFormat = "scope.dialogue.conversation/v1"

// Exported is the JSON document of one conversation, as `scope conversations export`
// writes it: the conversation's summary and every turn, oldest first.
type Exported struct {
	Format       string       `json:"format"`
	Exported     time.Time    `json:"exported"`
	Conversation Conversation `json:"conversation"`
	Turns        []Turn       `json:"turns"`
}

// Export writes one conversation as an indented JSON document (see Exported) to w.
// The conversation and its turns come from one snapshot; w is written after the read
// transaction has ended, so a slow writer does not hold the store.
func (s *Store) Export(ctx context.Context, id ConversationID, w io.Writer) error {
	doc := Exported{Format: ExportFormat, Exported: s.now().UTC(), Turns: []Turn{}}
	err := s.view(ctx, "exporting conversation "+id.String(), func(tx *bolt.Tx) error {
		var err error
		if doc.Conversation, err = getConversation(tx, id); err != nil {
			return err
		}
		tb, err := turnsBucket(tx, id)
		if err != nil {
			return err
		}
		return tb.ForEach(func(k, v []byte) error {
			t, err := decodeTurn(id, k, v)
			if err != nil {
				return err
			}
			doc.Turns = append(doc.Turns, t)
			return nil
		})
	})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("exporting conversation %d: writing JSON: %w", id, err)
	}
	return nil
}
