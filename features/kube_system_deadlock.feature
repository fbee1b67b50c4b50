@deadlock
Feature: The webhook cannot lock the cluster out of kube-system
  With failurePolicy Fail, a webhook that covers the namespace its own pods run in, or
  kube-system, deadlocks once its pods are gone: their replacements need the webhook to be
  admitted. So the installer refuses kube-system, kube-public, kube-node-lease and the
  webhook's own namespace, and the webhook configuration excludes them by name, so that
  labelling them opts nothing in. --allow-critical-namespaces exists only to show the
  deadlock; deleting the ValidatingWebhookConfiguration always recovers (the API server never
  sends webhook configurations to webhooks).

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"

  Scenario Outline: The installer refuses the critical namespace <namespace>
    When I ask the installer for namespace selector values "production <namespace>"
    Then the installer refuses with a message starting:
      """
      refusing "<namespace>": <namespace> is a critical Kubernetes namespace. If the webhook were down
      """

    Examples:
      | namespace       |
      | kube-system     |
      | kube-public     |
      | kube-node-lease |

  Scenario: The installer refuses the webhook's own namespace
    When I ask the installer for namespace selector values "tigera-image-assurance"
    Then the installer refuses with a message starting:
      """
      refusing "tigera-image-assurance": it is the webhook's own namespace. If the webhook were down, its own pods could not be recreated
      """

  Scenario: Only --allow-critical-namespaces makes the installer accept kube-system
    When I ask the installer for namespace selector values "kube-system" with --allow-critical-namespaces
    Then the installer gives the manifests

  # kube-system carries the opt-in label only during this scenario: its clean-up removes it.
  @serial
  Scenario: Labelling kube-system does not opt it in: the webhook configuration excludes it by name
    Given a namespace labelled "apply-container-policies=true"
    And the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: reject-all
      spec:
        rules:
          - action: Reject
      """
    And the namespace "kube-system" is labelled "apply-container-policies=true"
    And the policy for the "kube-system" namespace:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: reject-all-in-kube-system
      spec:
        rules:
          - action: Reject
      """
    And the webhook's admission requests are counted
    When I create a Pod "dns-probe" in the "kube-system" namespace with image "registry.k8s.io/pause:3.10"
    Then it is admitted
    And the webhook was not asked
    # The same label and the same kind of policy in an ordinary namespace:
    When I create a Pod "web" with image "registry.k8s.io/pause:3.10"
    Then it is rejected by policy "reject-all" rule index 0
    And the webhook was asked
    And the installed webhook "image-assurance.tigera.io" is called only for namespaces matching:
      | key                         | operator | values                                                         |
      | apply-container-policies    | In       | true                                                           |
      | kubernetes.io/metadata.name | NotIn    | kube-system kube-public kube-node-lease tigera-image-assurance |

  @serial
  Scenario: With the safe install, the webhook's Pods come back and kube-system is unaffected while it is down
    When I delete the webhook's Pods
    Then the webhook's Pods come back and are ready
    When the webhook's Deployment is scaled to 0 replicas
    And I create a Pod "dns-probe" in the "kube-system" namespace with image "registry.k8s.io/pause:3.10"
    Then it is admitted
    When the webhook's Deployment is scaled back to 2 replicas
    Then the webhook's Pods come back and are ready

  # The webhook is stopped first (scaled to 0: no Pods, no endpoints), so that no old webhook
  # process can admit its own replacements. Scaling the Deployment back up is refused too: the
  # Deployment controller's update of the ReplicaSet is a request in the webhook's namespace.
  # The scenario does that update itself, through the ReplicaSet's scale subresource (which
  # the webhook does not cover), to show the ReplicaSet controller's refusal.
  @serial
  Scenario: With the unsafe install, the webhook's Pods cannot come back until the webhook configuration is deleted
    Given the webhook's Deployment is scaled to 0 replicas
    And the webhook is installed unsafely with --allow-critical-namespaces for the namespaces named "kube-system tigera-image-assurance"
    When the webhook's Deployment is scaled back to 2 replicas
    And the webhook's ReplicaSet is scaled to 2 replicas
    Then the webhook's Pods cannot come back, its ReplicaSet reporting:
      """
      Internal error occurred: failed calling webhook "image-assurance.tigera.io": failed to call webhook: Post "https://tigera-image-assurance-admission-controller-service.tigera-image-assurance.svc:443/admission-review?timeout=5s": no endpoints available for service "tigera-image-assurance-admission-controller-service"
      """
    When I create a Pod "dns-probe" in the "kube-system" namespace with image "registry.k8s.io/pause:3.10"
    Then it is rejected with:
      """
      Internal error occurred: failed calling webhook "image-assurance.tigera.io": failed to call webhook: Post "https://tigera-image-assurance-admission-controller-service.tigera-image-assurance.svc:443/admission-review?timeout=5s": no endpoints available for service "tigera-image-assurance-admission-controller-service"
      """
    When I delete the ValidatingWebhookConfiguration "image-assurance.tigera.io"
    Then the webhook's Pods come back and are ready
    When I create a Pod "dns-probe-again" in the "kube-system" namespace with image "registry.k8s.io/pause:3.10"
    Then it is admitted
