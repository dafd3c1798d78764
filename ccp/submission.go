package ccp

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/task"
	"github.com/finesse-notify/finesse-notify/internal/xmlbody"
)

// The Task API's documented limits (FINESSE-REFERENCE §6).
const (
	maxNameChars           = 100
	maxScriptSelectorChars = 32
	maxTags                = 20
	maxCallVariable        = 10
	// maxECCNameChars bounds the <ecc> of user_<ecc>: the length CCE
	// allows an expanded call variable's name (the "user." prefix aside).
	maxECCNameChars = 32
	// maxFieldNameChars bounds the name of any other extension field.
	maxFieldNameChars = 64
	// maxValueBytes bounds a variable's value: what a call variable of the
	// router's Dialog may carry.
	maxValueBytes = 4096
)

// reservedFields are extension fields CCP sets itself; a variable may not
// take their names, or the contact would carry two of them.
var reservedFields = map[string]bool{
	"scriptSelector":     true,
	"taskID":             true,
	"mrdID":              true,
	"mrdIsInterruptible": true,
}

// submission is a validated task request.
type submission struct {
	name, title, description string
	scriptSelector           string
	requeueOnRecovery        bool
	// tags are the submitted tags, trimmed, without duplicates.
	tags      []string
	variables []task.Variable
}

// rawTask is a task request as the client wrote it, from a <Task> body or
// from URL parameters. A field given more than once is recorded by name in
// repeated, and refused.
type rawTask struct {
	name, title, description, scriptSelector, requeueOnRecovery *string
	tags                                                        []string
	variables                                                   []task.Variable
	repeated                                                    string
}

// taskBody is the <Task> document:
//
//	<Task><name/><title/><description/><scriptSelector/><customerUID/>
//	  <requeueOnRecovery/><tags><tag/>…</tags>
//	  <variables><variable><name/><value/></variable>…</variables></Task>
//
// Every field is a slice so that one given twice is seen and refused
// rather than silently overwritten. customerUID (a CCX addition) and
// unknown elements are accepted and ignored.
type taskBody struct {
	Name              []string `xml:"name"`
	Title             []string `xml:"title"`
	Description       []string `xml:"description"`
	ScriptSelector    []string `xml:"scriptSelector"`
	RequeueOnRecovery []string `xml:"requeueOnRecovery"`
	Tags              []struct {
		Tag []string `xml:"tag"`
	} `xml:"tags"`
	Variables []struct {
		Variable []struct {
			Name  []string `xml:"name"`
			Value []string `xml:"value"`
		} `xml:"variable"`
	} `xml:"variables"`
}

// parseTaskBody reads a <Task> document into a rawTask.
func parseTaskBody(body []byte) (rawTask, *apiError) {
	var b taskBody
	if err := xmlbody.Decode(body, "Task", &b); err != nil {
		return rawTask{}, badRequest(errXMLSyntax, "Task", "The request body is not a well-formed <Task> document: "+err.Error())
	}
	var raw rawTask
	single := func(field string, values []string) *string {
		switch len(values) {
		case 0:
			return nil
		case 1:
		default:
			raw.repeat(field)
		}
		return &values[0]
	}
	raw.name = single("name", b.Name)
	raw.title = single("title", b.Title)
	raw.description = single("description", b.Description)
	raw.scriptSelector = single("scriptSelector", b.ScriptSelector)
	raw.requeueOnRecovery = single("requeueOnRecovery", b.RequeueOnRecovery)
	if len(b.Tags) > 1 {
		raw.repeat("tags")
	}
	for _, t := range b.Tags {
		raw.tags = append(raw.tags, t.Tag...)
	}
	if len(b.Variables) > 1 {
		raw.repeat("variables")
	}
	for _, vs := range b.Variables {
		for _, v := range vs.Variable {
			name := single("variable/name", v.Name)
			value := single("variable/value", v.Value)
			var nv task.Variable
			if name != nil {
				nv.Name = *name
			}
			if value != nil {
				nv.Value = *value
			}
			raw.variables = append(raw.variables, nv)
		}
	}
	return raw, nil
}

// repeat records the first field given more than once.
func (raw *rawTask) repeat(field string) {
	if raw.repeated == "" {
		raw.repeated = field
	}
}

// variablePrefix starts a variable's URL parameter in the GET form of
// submission: variable_cv_1=…, variable_user_myEcc=….
const variablePrefix = "variable_"

// parseTaskQuery reads the GET form of submission: the Task's fields as
// UTF-8 URL parameters, tags as "tags" (repeated, or comma-separated) and
// variables as variable_<name>, kept in the order they appear. Other
// parameters are ignored.
func parseTaskQuery(rawQuery string) (rawTask, *apiError) {
	var raw rawTask
	seen := make(map[string]bool)
	set := func(field string, dst **string, value string) {
		if seen[field] {
			raw.repeat(field)
			return
		}
		seen[field] = true
		*dst = &value
	}
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err := errors.Join(err1, err2); err != nil {
			return rawTask{}, badRequest(errInvalidValue, "query", "The URL parameters are not correctly encoded: "+err.Error())
		}
		switch {
		case key == "name":
			set(key, &raw.name, value)
		case key == "title":
			set(key, &raw.title, value)
		case key == "description":
			set(key, &raw.description, value)
		case key == "scriptSelector":
			set(key, &raw.scriptSelector, value)
		case key == "requeueOnRecovery":
			set(key, &raw.requeueOnRecovery, value)
		case key == "tags":
			if value != "" {
				raw.tags = append(raw.tags, strings.Split(value, ",")...)
			}
		case strings.HasPrefix(key, variablePrefix):
			raw.variables = append(raw.variables, task.Variable{Name: key[len(variablePrefix):], Value: value})
		}
	}
	return raw, nil
}

// validate applies the Task API's rules to raw (FINESSE-REFERENCE §6):
// name required, at most 100 characters, no line break; title required;
// scriptSelector at most 32 characters; at most 20 tags; variables cv_1 to
// cv_10, user_<ecc> and other extension fields, each name once. Leading
// and trailing white space of names, title, scriptSelector and tags is
// not part of them; variable values and the description are kept as they
// are. maxVariables bounds the number of variables.
func validate(raw rawTask, maxVariables int) (submission, *apiError) {
	if raw.repeated != "" {
		return submission{}, badRequest(errDuplicate, raw.repeated, raw.repeated+" is given more than once")
	}
	var s submission
	var e *apiError
	if s.name, e = requiredText("name", raw.name); e != nil {
		return submission{}, e
	}
	if strings.ContainsAny(s.name, "\n\r") {
		return submission{}, badRequest(errInvalidChar, "name", "name may not contain a line break")
	}
	if utf8.RuneCountInString(s.name) > maxNameChars {
		return submission{}, tooLong("name", 1, maxNameChars)
	}
	if s.title, e = requiredText("title", raw.title); e != nil {
		return submission{}, e
	}
	if raw.description != nil {
		if e := checkChars("description", *raw.description); e != nil {
			return submission{}, e
		}
		s.description = *raw.description
	}
	if raw.scriptSelector != nil {
		s.scriptSelector = strings.TrimSpace(*raw.scriptSelector)
		if e := checkChars("scriptSelector", s.scriptSelector); e != nil {
			return submission{}, e
		}
		if utf8.RuneCountInString(s.scriptSelector) > maxScriptSelectorChars {
			return submission{}, tooLong("scriptSelector", 0, maxScriptSelectorChars)
		}
	}
	if raw.requeueOnRecovery != nil {
		switch v := strings.TrimSpace(*raw.requeueOnRecovery); {
		case v == "" || strings.EqualFold(v, "false"):
		case strings.EqualFold(v, "true"):
			s.requeueOnRecovery = true
		default:
			return submission{}, badRequest(errInvalidValue, "requeueOnRecovery", "requeueOnRecovery is neither true nor false")
		}
	}
	if s.tags, e = validateTags(raw.tags); e != nil {
		return submission{}, e
	}
	if s.variables, e = validateVariables(raw.variables, maxVariables); e != nil {
		return submission{}, e
	}
	return s, nil
}

// requiredText returns the trimmed value of a required field.
func requiredText(field string, v *string) (string, *apiError) {
	if v == nil || strings.TrimSpace(*v) == "" {
		return "", badRequest(errRequiredField, field, field+" is required")
	}
	s := strings.TrimSpace(*v)
	if e := checkChars(field, s); e != nil {
		return "", e
	}
	return s, nil
}

// checkChars refuses text an XML document cannot carry: invalid UTF-8 or
// a character outside XML 1.0's Char. A <Task> body cannot hold them; URL
// parameters can.
func checkChars(field, s string) *apiError {
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !finesse.IsXMLChar(r) }) >= 0 {
		return badRequest(errInvalidChar, field, field+" contains a character that is not allowed")
	}
	return nil
}

func validateTags(raw []string) ([]string, *apiError) {
	var tags []string
	for _, t := range raw {
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, badRequest(errRequiredField, "tag", "A tag is empty")
		}
		if e := checkChars("tag", t); e != nil {
			return nil, e
		}
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	if len(tags) > maxTags {
		e := badRequest(errOutOfRange, "tags", "A task may have at most "+strconv.Itoa(maxTags)+" tags")
		e.bounds = &bounds{min: 0, max: maxTags}
		return nil, e
	}
	return tags, nil
}

func validateVariables(raw []task.Variable, max int) ([]task.Variable, *apiError) {
	if len(raw) > max {
		e := badRequest(errOutOfRange, "variables", "A task may have at most "+strconv.Itoa(max)+" variables")
		e.bounds = &bounds{min: 0, max: max}
		return nil, e
	}
	out := make([]task.Variable, 0, len(raw))
	seen := make(map[string]bool, len(raw))
	for _, v := range raw {
		name := strings.TrimSpace(v.Name)
		if e := checkVariableName(name); e != nil {
			return nil, e
		}
		if seen[name] {
			return nil, badRequest(errDuplicate, name, "Variable "+name+" is given more than once")
		}
		seen[name] = true
		if e := checkChars(name, v.Value); e != nil {
			return nil, e
		}
		if len(v.Value) > maxValueBytes {
			e := badRequest(errFieldLength, name, "The value of "+name+" is longer than "+strconv.Itoa(maxValueBytes)+" bytes")
			e.bounds = &bounds{min: 0, max: maxValueBytes}
			return nil, e
		}
		out = append(out, task.Variable{Name: name, Value: v.Value})
	}
	return out, nil
}

// checkVariableName accepts cv_1 to cv_10 (written without leading zeros),
// user_<ecc> with an ECC variable name (ASCII letters, digits, '_', '.'
// and '-', as CCE names its expanded call variables), and any other
// extension field name that is not one CCP sets itself. Names have no
// white space or control characters.
func checkVariableName(name string) *apiError {
	const field = "variable/name"
	switch {
	case name == "":
		return badRequest(errRequiredField, field, "A variable has no name")
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return badRequest(errInvalidChar, name, "A variable name may not contain white space or control characters")
	case reservedFields[name]:
		return badRequest(errInvalidValue, name, name+" is set by CCP and cannot be a variable")
	case strings.HasPrefix(name, "cv_"):
		n, err := strconv.Atoi(name[3:])
		if err != nil || n < 1 || n > maxCallVariable || strconv.Itoa(n) != name[3:] {
			e := badRequest(errOutOfRange, name, "Call variables are cv_1 to cv_"+strconv.Itoa(maxCallVariable))
			e.bounds = &bounds{min: 1, max: maxCallVariable}
			return e
		}
	case strings.HasPrefix(name, "user_"):
		ecc := name[len("user_"):]
		if ecc == "" {
			return badRequest(errRequiredField, name, "user_ must be followed by the ECC variable's name")
		}
		if len(ecc) > maxECCNameChars {
			return tooLong(name, 1, maxECCNameChars)
		}
		if strings.TrimLeft(ecc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != "" {
			return badRequest(errInvalidChar, name, "An ECC variable name has only letters, digits, '_', '.' and '-'")
		}
	default:
		if utf8.RuneCountInString(name) > maxFieldNameChars {
			return tooLong(name, 1, maxFieldNameChars)
		}
	}
	return checkChars(name, name)
}
