@updates
Feature: Updates that bring no new image are never blocked
  An object is judged when it is created. An update is judged only for the images it brings: a
  container whose image changed, or a container that was not there before. Images that were
  admitted are not judged again, so new scan results never stop anyone from labelling,
  annotating, scaling or restarting what is running, or from debugging its Pods in an
  incident. Changing an image to a rejected one is refused as always, and a debug container is
  judged on its own image.

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"
    And a namespace labelled "apply-container-policies=true"
    And the policy "reject-failed-and-non-gcr" from the fixtures
    And these scan results:
      | image                                        | status | scanned   |
      | gcr.io/company/production-repository/api:1.2 | Pass   | 1 day ago |
      | gcr.io/company/production-repository/web:2.0 | Pass   | 1 day ago |
    And an admitted Deployment "api" with image "gcr.io/company/production-repository/api:1.2"

  Scenario: A Deployment whose image now fails can still be labelled, annotated, scaled and restarted
    When the scan result of "gcr.io/company/production-repository/api:1.2" changes to Fail
    And I label the Deployment "api" "incident=quarantine"
    Then it is admitted
    When I annotate the Deployment "api" "runbook=runbooks.example.com/api"
    Then it is admitted
    When I set the replicas of the Deployment "api" to 2
    Then it is admitted
    And the Deployment "api" has 2 Pods
    When I restart the Deployment "api"
    Then it is admitted
    And every Pod of the Deployment "api" was restarted
    And no Pod creation was refused in the namespace

  Scenario: The Pods of a Deployment whose image now fails can still be labelled
    When the scan result of "gcr.io/company/production-repository/api:1.2" changes to Fail
    And I label the Pods of the Deployment "api" "quarantine=true"
    Then it is admitted

  Scenario: Changing the image to a rejected one is still refused
    When the scan result of "gcr.io/company/production-repository/api:1.2" changes to Fail
    And I set the image of the Deployment "api" to "nginx:1.27"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 0
    When I set the image of the Deployment "api" to "gcr.io/company/production-repository/web:2.0"
    Then it is admitted
    When I undo the rollout of the Deployment "api"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 2

  Scenario: A refused update is recorded as an event on the object, for kubectl describe
    When I set the image of the Deployment "api" to "nginx:1.27"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 0
    And the Deployment "api" has a Warning event "UpdateRejected" saying:
      """
      the update was refused by the image-assurance webhook: image "nginx:1.27" (container "api"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 0
      """

  Scenario: A debug container is judged on its own image, not on the Pod's
    When the scan result of "gcr.io/company/production-repository/api:1.2" changes to Fail
    And I add an ephemeral container "debug" with image "gcr.io/company/production-repository/web:2.0" to a Pod of the Deployment "api"
    Then it is admitted
    When I add an ephemeral container "shell" with image "busybox:1.36" to a Pod of the Deployment "api"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 0
