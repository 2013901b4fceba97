package focus

// answerOffer negotiates a peer's offer and returns the answer SDP.
func answerOffer(raw []byte, local localMedia) (negotiated, []byte, error) {
	o, err := parseOffer(raw, local.Addr, local.SRTP)
	if err != nil {
		return negotiated{}, nil, err
	}
	out, err := o.answer(local)
	if err != nil {
		return negotiated{}, nil, err
	}
	return o.n, out, nil
}
