// Dumps upstream's flowcontrol bootstrap objects (mandatory + suggested) as JSON facts.
package main

import (
	"encoding/json"
	"os"

	"k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
)

func main() {
	out := map[string]interface{}{
		"mandatoryPriorityLevelConfigurations": bootstrap.MandatoryPriorityLevelConfigurations,
		"mandatoryFlowSchemas":                 bootstrap.MandatoryFlowSchemas,
		"suggestedPriorityLevelConfigurations": bootstrap.SuggestedPriorityLevelConfigurations,
		"suggestedFlowSchemas":                 bootstrap.SuggestedFlowSchemas,
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	_ = enc.Encode(out)
}
