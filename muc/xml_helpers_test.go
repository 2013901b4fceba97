package muc

import (
	"bytes"
	"encoding/xml"
)

// parseNode parses the first element of b (tests and fuzz targets).
func parseNode(b []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return readNode(d, se)
		}
	}
}
